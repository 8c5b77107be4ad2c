"""matrix, reproduce and verify share one run-and-report path: the same report set, the same
--fail-on and exit codes (docs/cli.md)."""

import json
import shutil

import pytest
from conftest import REPO, harness

from harness.report import bundle

SCENARIO = """topology: {name: server-nat, forward_range: none}
server: {impl: vsftpd, tls: explicit, masquerade: on, passive_range: 50000-50100}
clients:
  - {impl: curl, pasv_address: control}
modes: [pasv]
expect:
  outcome: fail
  stage: data-connect
"""

PLAN = """ruleset: edge-firewall-incomplete.nft
topology: server-nat
server: {impl: vsftpd, tls: explicit, masquerade: on, passive_range: 50000-50100}
clients:
  - {impl: curl, modes: [pasv], label: curl}
"""


def assert_full_set(d, key):
    assert set(bundle.NAMES) <= {p.name for p in d.iterdir()}, sorted(p.name for p in d.iterdir())
    data = json.loads((d / "results.json").read_text())
    assert data[key] and data["planned"] == 1 and len(data["cases"]) == 1
    assert "<html" in (d / "index.html").read_text().lower()
    assert "<testsuite" in (d / "junit.xml").read_text()
    return data


@pytest.mark.netns
def test_reproduce_writes_the_full_report_set_and_applies_fail_on(tmp_path):
    (tmp_path / "s.yaml").write_text(SCENARIO)
    r = harness("reproduce", "--no-fixes", str(tmp_path / "s.yaml"), "--report-dir", str(tmp_path / "out"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "every expectation held" in r.stdout
    assert_full_set(tmp_path / "out", "scenario")
    r = harness("reproduce", "--no-fixes", str(tmp_path / "s.yaml"), "--fail-on", "fail")
    assert r.returncode == 1 and "--fail-on fail: 1 case(s) tripped the gate" in r.stdout, r.stdout[-2000:]


@pytest.mark.netns
def test_verify_writes_the_full_report_set_with_its_advice_and_patch(tmp_path):
    shutil.copy(REPO / "plans" / "edge-firewall-incomplete.nft", tmp_path)
    (tmp_path / "p.yaml").write_text(PLAN)
    r = harness("verify", str(tmp_path / "p.yaml"), "--report-dir", str(tmp_path / "out"))
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-2000:]
    assert "--fail-on fail: 1 case(s) tripped the gate" in r.stdout
    data = assert_full_set(tmp_path / "out", "plan")
    assert data["advice"] and list((tmp_path / "out" / "patches").glob("*.patch"))


@pytest.mark.netns
def test_matrix_terminal_output_keeps_its_order(tmp_path):
    case = "server-nat/vsftpd/curl/explicit/pasv/trust/masq-on/fwd-none"
    r = harness(
        "matrix",
        "--case",
        case,
        "--json",
        str(tmp_path / "r.json"),
        "--report-dir",
        str(tmp_path / "out"),
        "--fail-on",
        "fail",
    )
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-2000:]
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    starts = [
        "1 cases in ",
        "passive-range-not-forwarded (1 cases)",
        "results written to",
        "reports written to",
        "re-run the failures:",
        "--fail-on fail: 1 case(s) tripped the gate",
    ]
    at = [next(i for i, line in enumerate(lines) if line.lstrip().startswith(s)) for s in starts]
    assert at == sorted(at), list(zip(starts, at))
    assert_full_set(tmp_path / "out", "axes")


@pytest.mark.netns
def test_an_interrupted_reproduce_keeps_its_finished_cases_in_the_report_set(tmp_path, monkeypatch):
    from harness import cli
    from harness.run.worker import Interrupted

    real = cli.execute

    def interrupted_after(cases, **kw):  # the real run, then Ctrl-C as it ends
        results, _, _ = real(cases, **kw)
        raise Interrupted(results, planned=len(cases) + 1)

    monkeypatch.setattr(cli, "execute", interrupted_after)
    (tmp_path / "s.yaml").write_text(SCENARIO)
    code = cli.main(["reproduce", "--no-fixes", str(tmp_path / "s.yaml"), "--report-dir", str(tmp_path / "out")])
    assert code == 130
    data = json.loads((tmp_path / "out" / "results.json").read_text())
    assert data["interrupted"] is True and data["planned"] == 2 and len(data["cases"]) == 1
    assert set(bundle.NAMES) <= {p.name for p in (tmp_path / "out").iterdir()}
