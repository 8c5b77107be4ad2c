"""The embedded server's fork server (servers/_forkserver.py) on a real lab: one warm
interpreter per lab host forks a server per start; a server that dies is seen as dead and a
new one starts; a start that fails says why; teardown leaves nothing behind."""

import os
import signal
import subprocess
import time

import pytest
from conftest import netns_list

import certs
import servers
from harness.build import topologies
from harness.build.backends.netns import NetnsBackend
from harness.core.case import ServerSpec

pytestmark = pytest.mark.netns


def ctx_for(lab, tmp_path, tag: str) -> servers.ServerContext:
    return servers.ServerContext(
        public_ip=lab.topology.server_public,
        certs=certs.ensure(),
        home=tmp_path / f"{tag}-home",
        log=tmp_path / f"{tag}.log",
        python=lab.python,
    )


def greeting(lab, port: int = 21) -> str:
    script = (
        f"import socket; s = socket.create_connection(('{lab.topology.server_public}', {port}), 3); "
        "print(s.recv(200).decode().strip())"
    )
    return lab.run(lab.topology.client, [lab.python, "-c", script], timeout=10).stdout


def test_one_fork_server_per_lab_host_starts_stops_and_restarts_servers(tmp_path):
    prefix = f"fth-fork{os.getpid()}-0"
    lab = NetnsBackend().build(topologies.build("direct", ServerSpec(tls="none")), prefix)
    adapter = servers.get("pyftpdlib")
    try:
        host = lab.topology.servers[0]
        first = adapter.start(lab, host, ServerSpec(tls="none"), ctx_for(lab, tmp_path, "a"))
        assert first.alive() and "220" in greeting(lab)
        first.stop()
        assert not first.alive()

        second = adapter.start(lab, host, ServerSpec(tls="explicit"), ctx_for(lab, tmp_path, "b"))
        assert second.fork is first.fork  # the same warm interpreter
        assert second.pid != first.pid and second.alive()
        assert "listening on" in (tmp_path / "b.log").read_text()

        os.kill(second.pid, signal.SIGKILL)  # a server that dies mid-unit
        deadline = time.monotonic() + 5
        while second.alive() and time.monotonic() < deadline:  # until the kernel has ended it
            time.sleep(0.01)
        assert not second.alive()
        third = adapter.start(lab, host, ServerSpec(tls="implicit"), ctx_for(lab, tmp_path, "c"))
        assert third.alive()

        with pytest.raises(servers.ServerStartFailed, match="Address already in use"):  # 990 is taken
            adapter.start(lab, host, ServerSpec(tls="implicit"), ctx_for(lab, tmp_path, "d"))
        assert third.alive()
        fork_pid, child = third.fork.proc.pid, third.pid
    finally:
        lab.teardown()
    assert not [n for n in netns_list() if n.startswith(prefix)]
    for pid in (fork_pid, child):
        assert subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True).returncode != 0
