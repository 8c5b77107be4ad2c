"""The probe against hostile servers (tests/hostile_ftp.py on loopback): each ends within
its bound with a `fail` at the right stage, never an error, and the probe process stays
under 200 MB of memory (its peak RSS, measured by the kernel)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import jsonschema
import pytest
from conftest import REPO
from hostile_ftp import Hostile

from harness.probe.model import json_schema

TIMEOUT = "1"  # seconds per network wait; a whole reply may take max(3 x 1, 5) = 5 s
MAX_RSS_MB = 200


def probe(server: Hostile, tmp_path, *args: str) -> tuple[int, dict, str, float, float]:
    """Run the probe as a user would: its exit code, JSON document, output, peak RSS (MB) as
    the kernel measured it (wait4), and seconds taken."""
    out, log = tmp_path / "probe.json", tmp_path / "probe.log"
    out.unlink(missing_ok=True)
    t0 = time.monotonic()
    with open(log, "w") as f:
        p = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "harness",
                "probe",
                f"127.0.0.1:{server.port}",
                "--timeout",
                TIMEOUT,
                "--json",
                str(out),
                *args,
            ],
            cwd=REPO,
            stdout=f,
            stderr=subprocess.STDOUT,
        )
        killer = threading.Timer(90, p.kill)
        killer.start()
        _, status, usage = os.wait4(p.pid, 0)
        killer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    doc = json.loads(out.read_text()) if out.exists() else {}
    return p.returncode, doc, log.read_text(), usage.ru_maxrss / 1024, time.monotonic() - t0


# behaviour, probe options, the stage every mode fails at, the failure kind, the bound (s)
CASES = [
    ("endless-multiline", ("--tls", "none", "--mode", "pasv"), "connect", "oversize", 10),
    ("trickle", ("--tls", "none", "--mode", "pasv"), "connect", "trickle", 15),
    ("long-line", ("--tls", "none", "--mode", "pasv"), "connect", "oversize", 10),
    ("234-plaintext", ("--tls", "explicit", "--mode", "pasv"), "tls-handshake", ("protocol", "tls-error"), 10),
    ("227-third-party", ("--tls", "none", "--mode", "pasv"), "data-setup", "foreign-pasv", 10),
    ("150-no-data", ("--tls", "none", "--mode", "port"), "data-connect", "timeout", 15),
]


@pytest.mark.parametrize("behaviour,args,stage,kind,bound", CASES, ids=[c[0] for c in CASES])
def test_hostile_server_is_a_bounded_fail_at_its_stage(tmp_path, behaviour, args, stage, kind, bound):
    with Hostile(behaviour) as server:
        rc, doc, text, rss, took = probe(server, tmp_path, *args)
    assert rc == 1, text
    assert "internal error" not in text and "Traceback" not in text
    assert doc["schema"] == "probe" and doc["outcome"] == "fail"
    jsonschema.validate(doc, json_schema())
    (mode,) = doc["modes"]
    assert (mode["outcome"], mode["stage"]) == ("fail", stage), mode
    # the plaintext after 234 is seen in the reply buffer (protocol), or by TLS when it
    # arrives in its own segment (tls-error: wrong version number)
    assert mode["kind"] in ((kind,) if isinstance(kind, str) else kind), mode
    assert took < bound, f"{behaviour}: {took:.1f}s"
    assert 0 < rss < MAX_RSS_MB, f"{behaviour}: peak RSS {rss:.0f} MB"


def test_third_party_227_is_named_and_followed_only_when_asked(tmp_path):
    with Hostile("227-third-party") as server:
        _, doc, _, _, _ = probe(server, tmp_path, "--tls", "none", "--mode", "pasv")
    (mode,) = doc["modes"]
    assert "192.0.2.99" in mode["diagnosis"] and "third party" in mode["diagnosis"]
    assert "third-party-pasv" in {f["check"] for f in doc["findings"]}
    assert "third-party-pasv" in mode["findings"]
    with Hostile("227-third-party") as server:
        _, doc, _, _, _ = probe(server, tmp_path, "--tls", "none", "--mode", "pasv", "--follow-foreign-pasv")
    (mode,) = doc["modes"]
    assert mode["stage"] == "data-connect"  # it tried 192.0.2.99, which nothing here answers
    assert mode["data"][0]["target"].startswith("192.0.2.99:")


def test_latin1_greeting_is_decoded_with_replacement_and_reported(tmp_path):
    with Hostile("latin1-greeting") as server:
        rc, doc, text, rss, _ = probe(server, tmp_path, "--tls", "none", "--mode", "pasv,epsv")
    assert "internal error" not in text
    assert doc["banner"] == ["220 Willkommen, Gr\ufffd\ufffde aus K\ufffdln"]
    assert [m["outcome"] for m in doc["modes"]] == ["pass", "pass"]
    assert "non-utf8" in {f["check"] for f in doc["findings"]}
    assert rss < MAX_RSS_MB
    assert rc == 0  # every mode passed, and non-utf8 is only "info"
    with Hostile("latin1-greeting") as server:
        rc, _, _, _, _ = probe(server, tmp_path, "--tls", "none", "--mode", "epsv", "--fail-on", "info")
    assert rc == 1


@pytest.mark.parametrize(
    "behaviour,step,kind",
    [
        ("endless-multiline", "greeting", "oversize"),
        ("long-line", "greeting", "oversize"),
        ("trickle", "greeting", "trickle"),
    ],
)
def test_the_matrix_probe_has_the_same_bounds(behaviour, step, kind):
    """The matrix's session (clients/python_ftplib/agent.py run, as its agent runs it) stops the same way."""
    import resource

    from clients.python_ftplib import agent

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Hostile(behaviour) as server:
        report = agent.run(
            agent.Request(
                host="127.0.0.1",
                port=server.port,
                tls="none",
                mode="epsv",
                user="u",
                password="p",
                timeout=1.0,
                size=1024,
            )
        )
    assert not report.ok and (report.failure.step, report.failure.kind) == (step, kind)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50 * 1024  # KiB
