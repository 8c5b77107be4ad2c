"""Nothing lost: a fault in any harness step of a worker ends as an `error` result for each
case it touches, with the reason; the run exits 1 and says how many cases ended in error and
why. Faults are injected into the real run (real namespaces, server and client)."""

import json

import pytest

from harness import cli
from harness.build.middleboxes import Middleboxes, ProxyFailed
from harness.observe import recording
from harness.observe.watch import MiddleboxWatch
from harness.run.worker import ServerGroup, Worker

pytestmark = pytest.mark.netns

ARGS = [
    "matrix",
    "--topology",
    "direct",
    "--family",
    "ipv4",
    "--tls",
    "none",
    "--mode",
    "pasv,epsv",
    "--pasv-address",
    "trust",
    "--masquerade",
    "off",
    "--jobs",
    "1",
]


def run(tmp_path, capsys, *extra: str) -> tuple[int, dict, str]:
    out = tmp_path / "r.json"
    code = cli.main([*ARGS, "--json", str(out), *extra])
    doc = json.loads(out.read_text())
    return code, doc, capsys.readouterr().out


def boom(what):
    def fail(*a, **kw):
        raise what

    return fail


def assert_all_errors(code: int, doc: dict, out: str, reason: str, n: int = 2) -> None:
    assert code == 1
    assert doc["planned"] == n and len(doc["cases"]) == n
    assert [c["outcome"] for c in doc["cases"]] == ["error"] * n, [c["diagnosis"] for c in doc["cases"]]
    assert all(reason in c["diagnosis"] for c in doc["cases"]), [c["diagnosis"] for c in doc["cases"]]
    assert f"{n} error" in out and "ended in error" in out and reason in out


def test_recording_that_cannot_be_saved_is_an_error_per_case(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(recording, "save", boom(OSError(28, "No space left on device")))
    code, doc, out = run(tmp_path, capsys, "--no-rules", "--record", str(tmp_path / "rec"))
    assert_all_errors(code, doc, out, "could not save the observation")


def test_a_proxy_that_fails_to_restart_is_an_error_per_case(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Middleboxes, "before_case", boom(ProxyFailed("HAProxy did not start on lb")))
    code, doc, out = run(tmp_path, capsys, "--no-rules")
    assert_all_errors(code, doc, out, "HAProxy did not start on lb")


def test_a_middlebox_watch_that_breaks_is_an_error_per_case(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(MiddleboxWatch, "take", boom(RuntimeError("conntrack went away")))
    code, doc, out = run(tmp_path, capsys, "--no-rules")
    assert_all_errors(code, doc, out, "conntrack went away")


def test_a_proof_that_cannot_restore_the_firewall_is_an_error_not_a_lost_case(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Middleboxes, "restore", boom(RuntimeError("nft refused the ruleset")))
    code, doc, out = run(tmp_path, capsys)
    assert_all_errors(code, doc, out, "could not restore the firewalls")


def test_a_server_that_cannot_be_restarted_is_an_error_per_case(tmp_path, capsys, monkeypatch):
    start = Worker._start_servers
    calls = []

    def start_once(self, *a):
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("the server would not start again")
        return start(self, *a)

    monkeypatch.setattr(Worker, "_start_servers", start_once)
    monkeypatch.setattr(ServerGroup, "alive", lambda self: False)
    code, doc, out = run(tmp_path, capsys, "--no-rules")
    assert_all_errors(code, doc, out, "the server would not start again")
    assert "could not restart the server" in doc["cases"][0]["diagnosis"]


def test_a_worker_that_breaks_outside_any_case_loses_no_case(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(Worker, "unit", boom(RuntimeError("a bug between cases")))
    code, doc, out = run(tmp_path, capsys, "--no-rules")
    assert_all_errors(code, doc, out, "a bug between cases")
