"""reproduce --from, end to end: a ticket's file in, the verdict on the ticket out (real labs)."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, harness

T = REPO / "tests" / "fixtures" / "tickets"


@pytest.mark.netns
@pytest.mark.parametrize(
    ("files", "verdict"),
    [
        (
            ["curl-explicit-pasv-private-refused.log"],
            "reproduced: the same failure at data-connect, with a private address in its 227 too",
        ),
        (["filezilla-pane-pasv-private-timeout.txt"], "reproduced: the same failure at data-connect"),
        (["pcap-explicit-session-reuse-522.pcap"], "reproduced: the same failure at data-tls"),
    ],
)
def test_a_ticket_s_file_is_reproduced_and_said_so_in_every_report(files, verdict, tmp_path):
    out = tmp_path / "reports"
    r = harness(
        "reproduce", "--from", *(str(T / f) for f in files), "--no-fixes", "--report-dir", str(out), timeout=600
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert verdict in " ".join(r.stdout.split())
    doc = json.loads((out / "results.json").read_text())
    assert doc["ticket"]["reproduced"] is True and doc["ticket"]["verdict"].startswith(verdict)
    for name in ("summary.md", "details.md", "junit.xml", "index.html"):
        assert "reproduced: the same failure" in (out / name).read_text(), name
    assert (out / "ticket.scenario.yaml").exists()


@pytest.mark.netns
def test_a_round_trip_from_a_capture_run(tmp_path):
    """A scenario run with --capture leaves what a ticket carries; importing it reproduces the
    same stage and check."""
    run = tmp_path / "run"
    r = harness(
        "reproduce",
        str(REPO / "scenarios" / "01-ftps-behind-nat-private-ip.yaml"),
        "--capture",
        "--no-fixes",
        "--report-dir",
        str(run),
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-2000:]
    cases = json.loads((run / "results.json").read_text())["cases"]
    curl = next(c for c in cases if c["client"] == "curl")
    folder = next(p for p in (run / "cases").iterdir() if "curl" in p.name)
    again = tmp_path / "again"
    r = harness(
        "reproduce", "--from", str(folder / "client.log"), "--no-fixes", "--report-dir", str(again), timeout=600
    )
    assert r.returncode == 0, r.stdout[-2000:]
    got = json.loads((again / "results.json").read_text())["cases"]
    assert {(c["stage"], c["check"]) for c in got} == {(curl["stage"], curl["check"])}
