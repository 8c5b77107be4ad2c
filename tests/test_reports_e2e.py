"""Reports a person opens: a decryptable capture, the HTML page in a real browser, JUnit,
and the Markdown summary."""

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest
from conftest import chromium, harness

pytestmark = pytest.mark.netns
CASE = "server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    r = harness(
        "matrix",
        "--topology",
        "server-nat,server-nat-alg",
        "--family",
        "ipv4",
        "--tls",
        "none,explicit",
        "--mode",
        "pasv,epsv",
        "--masquerade",
        "off",
        "--capture",
        "--report-dir",
        str(out),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return out


def test_a_captured_failing_tls_case_decrypts_to_the_advertised_private_address(reports):
    if shutil.which("tshark") is None:
        pytest.skip("tshark is installed by make setup")
    case = reports / "cases" / CASE.replace("/", "_")
    assert (case / "fw-outside.pcap").stat().st_size > 1000 and (case / "client.keylog").exists()
    out = subprocess.run(
        [
            "tshark",
            "-r",
            str(case / "fw-outside.pcap"),
            "-o",
            f"tls.keylog_file:{case / 'client.keylog'}",
            "-Y",
            "ftp.response.code == 227",
            "-T",
            "fields",
            "-e",
            "ftp.response.arg",
        ],
        capture_output=True,
        text=True,
    )
    decrypted = out.stdout.strip()
    assert "(10,0,2,2," in decrypted, out.stderr
    import json

    doc = json.loads((reports / "results.json").read_text())
    diag = next(c["diagnosis"] for c in doc["cases"] if c["id"] == CASE)
    assert decrypted.split("(")[1].split(")")[0] in diag  # the verdict quotes what the wire shows


def test_the_html_report_renders_the_grid_and_a_case_in_a_real_browser(reports):
    page = f"file://{reports / 'index.html'}#" + CASE.replace("/", "%2F")
    dom = chromium("--dump-dom", page, width=1500, height=1000).stdout
    assert 'class="matrix"' in dom and dom.count('class="cell ') >= 12
    assert "stage: data-connect" in dom and "10.0.2.2:500" in dom  # the case detail opened
    assert "<svg" in dom and "refused" in dom
    passing = chromium(
        "--dump-dom",
        f"file://{reports / 'index.html'}#"
        + "server-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-off".replace("/", "%2F"),
    ).stdout
    assert "Firewall rules for fw" in passing and "verified by replay" in passing
    shot = reports / "screenshot.png"
    chromium(f"--screenshot={shot}", page, width=1500, height=1000)
    assert shot.exists() and shot.stat().st_size > 20000


def test_junit_has_one_testcase_per_case_with_the_diagnosis_as_message(reports):
    root = ET.parse(reports / "junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert len(cases) == 12  # 2 topologies x 2 tls x (pasv trust, pasv control, epsv)
    failures = root.findall(".//failure")
    assert failures and all(" — " in f.get("message") for f in failures)
    assert any(f"{CASE}: data-connect — The server advertised 10.0.2.2" in f.get("message") for f in failures)


def test_summary_md_has_the_matrix_and_failures_and_details_md_the_rules(reports):
    text = (reports / "summary.md").read_text()
    assert "| topology |" in text and "## Failures" in text and "advertised-address-unreachable" in text
    assert len(text) <= 30_000 and "[details.md](details.md)" in text
    assert "## Rule sets" in (reports / "details.md").read_text()
