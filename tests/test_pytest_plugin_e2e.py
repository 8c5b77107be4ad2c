"""`pytest scenarios/`: scenario cases as pytest items, with pytest's selection and JUnit."""

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import REPO

pytestmark = pytest.mark.netns


def pytest_run(*args: str, cwd=REPO, cache: str | None = None) -> subprocess.CompletedProcess:
    where = ["-o", f"cache_dir={cache}"] if cache else ["-p", "no:cacheprovider"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *where, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_a_scenario_file_is_collected_case_by_case_and_its_expectations_hold(tmp_path):
    junit = tmp_path / "junit.xml"
    r = pytest_run("scenarios/03-passive-range-not-forwarded.yaml", "-k", "curl", "-q", f"--junitxml={junit}")
    assert r.returncode == 0, r.stdout[-3000:]
    assert "2 passed, 2 deselected" in r.stdout
    names = [tc.get("name") for tc in ET.parse(junit).getroot().iter("testcase")]
    assert names == [
        "server-nat/vsftpd/curl/explicit/pasv/control/masq-on/range-50000-50100/fwd-none",
        "server-nat/vsftpd/curl/explicit/epsv/n-a/masq-on/range-50000-50100/fwd-none",
    ]


def test_a_case_whose_expectation_does_not_hold_fails_with_the_verdict_and_a_rerun_line(tmp_path):
    (tmp_path / "conftest.py").write_text((REPO / "scenarios" / "conftest.py").read_text())
    (tmp_path / "wrong.yaml").write_text(
        "# expects every case to pass, but PASV trusting a private address through NAT fails\n"
        "topology: server-nat\nserver: {impl: pyftpdlib, tls: explicit, masquerade: off}\n"
        "clients: [{impl: ftplib, pasv_address: trust}]\nmodes: [pasv, epsv]\nexpect: {outcome: pass}\n"
    )
    r = pytest_run(str(tmp_path), "-q", "-rf", f"--rootdir={tmp_path}", cwd=REPO)
    assert r.returncode == 1, r.stdout[-3000:]
    assert "1 failed, 1 passed" in r.stdout
    assert "expected outcome pass, got fail at data-connect (advertised-address-unreachable)" in r.stdout
    assert (
        f"re-run: {sys.executable} -m harness matrix --case server-nat/pyftpdlib/ftplib/explicit/pasv/trust/"
        "masq-off" in r.stdout
    )
    cache = str(tmp_path / "cache")
    pytest_run(str(tmp_path), "-q", f"--rootdir={tmp_path}", cache=cache)
    again = pytest_run(str(tmp_path), "-q", f"--rootdir={tmp_path}", "--lf", cache=cache)
    assert "1 failed in" in again.stdout and "passed" not in again.stdout.splitlines()[-1]  # --lf: the failure only


def test_a_broken_scenario_file_is_a_collection_error_naming_the_key(tmp_path):
    (tmp_path / "conftest.py").write_text((REPO / "scenarios" / "conftest.py").read_text())
    (tmp_path / "bad.yaml").write_text("topology: mars\nclients: [ftplib]\n")
    r = pytest_run(str(tmp_path), "-q", f"--rootdir={tmp_path}", cwd=REPO)
    assert r.returncode == 2 and "topology.name" in r.stdout and "Traceback" not in r.stdout
