"""Teardown survives repeated signals, `clean` removes what a killed run left (namespaces and
its scratch folder), and an interrupted run still writes the results it has."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, harness, netns_list

from harness.build.backends.netns import STATE_DIR

pytestmark = pytest.mark.netns


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "matrix", "--topology", "direct", "--jobs", "1", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_id_of(p: subprocess.Popen, timeout: float = 30) -> str:
    """The run id the process claimed (/run/ftps-harness/<id>.pid holds its pid)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in STATE_DIR.glob("*.pid"):
            try:
                if f.read_text().strip() == str(p.pid):
                    return f.stem
            except OSError:
                pass
        time.sleep(0.02)
    pytest.fail("the run never claimed a run id")


def namespaces_of(run_id: str) -> set[str]:
    return {n for n in netns_list() if n.startswith(f"fth-{run_id}-")}


def wait_for_namespaces(run_id: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not namespaces_of(run_id):
        if time.monotonic() > deadline:
            pytest.fail("the run never built its namespaces")
        time.sleep(0.02)


@pytest.mark.parametrize("gap", [0.02, 0.05, 0.1])
def test_a_second_signal_during_teardown_leaves_no_namespace(gap):
    p = start()
    rid = run_id_of(p)
    wait_for_namespaces(rid)
    time.sleep(0.3)  # a case in flight
    p.send_signal(signal.SIGTERM)
    time.sleep(gap)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert namespaces_of(rid) == set()


def test_clean_removes_the_scratch_folder_of_a_killed_run():
    p = start()
    rid = run_id_of(p)
    wait_for_namespaces(rid)
    folders = list(Path("/tmp").glob(f"ftps-harness-{p.pid}-*"))
    assert folders, "the run names its scratch folder after its pid"
    p.kill()
    p.wait()
    r = harness("clean", timeout=60)
    assert r.returncode == 0, r.stderr
    assert not any(f.exists() for f in folders)
    assert namespaces_of(rid) == set()


def test_an_interrupted_run_writes_the_results_it_has(tmp_path):
    out = tmp_path / "r.json"
    p = start("--json", str(out), "--no-rules")
    rid = run_id_of(p)
    wait_for_namespaces(rid)
    deadline = time.monotonic() + 60
    while p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # let a few cases finish
        if len(list(Path("/tmp").glob(f"ftps-harness-{p.pid}-*/*/*.log"))) > 4:
            break
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    doc = json.loads(out.read_text())
    assert doc["interrupted"] is True and doc["planned"] > len(doc["cases"])
    assert namespaces_of(rid) == set()


def test_a_teardown_cut_short_is_finished_by_the_next(monkeypatch):
    import os

    from harness.build import topologies
    from harness.build.backends import netns
    from harness.core.case import ServerSpec

    lab = netns.NetnsBackend().build(topologies.build("direct", ServerSpec()), f"fth-cut{os.getpid()}-0")
    real = netns.remove_namespaces

    def interrupted(names):
        real(names[:1])  # one namespace removed, then the signal
        raise KeyboardInterrupt

    monkeypatch.setattr(netns, "remove_namespaces", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lab.teardown()
    assert set(lab.ns.values()) & netns_list(), "the lab is half removed"
    monkeypatch.setattr(netns, "remove_namespaces", real)
    lab.teardown()  # not "already down": it finishes the job
    assert not set(lab.ns.values()) & netns_list()
