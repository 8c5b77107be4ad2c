"""A warm interpreter per lab host that forks a fresh server process per start.

A Python server's start-up is mostly its interpreter and imports (~140 ms for pyftpdlib with
pyOpenSSL); every unit of a matrix starts one. The fork server pays that once per lab host:
it imports, then forks one child per `start`, each running the server's own `main(config)`
exactly as a fresh `python -m` would. It runs in the host through the Lab like any server.

Requests (harness -> fork server, one JSON object a line on stdin) and replies (stdout):
  {"op": "start", "config": {...}, "stderr": path}  -> "STARTED <pid>"; the child then
                                                       prints "READY <port> <pid>" or "FAILED <pid>"
  {"op": "alive", "pid": N}                         -> "ALIVE <pid> 1|0"
  {"op": "stop", "pid": N}                          -> "STOPPED <pid>"
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from servers import RunningServer, ServerAdapter, ServerContext

if TYPE_CHECKING:
    from harness.build.backends.base import Lab

STOP_GRACE = 2.0  # SIGTERM, then SIGKILL, like Lab.stop


# --- harness side ----------------------------------------------------------------


class ForkServer:
    """One fork server process in one lab host, and the line protocol to it."""

    def __init__(self, lab: Lab, host: str, argv: list[str], stderr: Path) -> None:
        self.lab, self.host = lab, host
        with open(stderr, "a") as err:
            self.proc = lab.spawn(host, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        self._buf = b""
        self._lock = threading.Lock()

    def usable(self) -> bool:
        return self.proc.poll() is None

    def start(
        self, adapter: ServerAdapter, ctx: ServerContext, config: dict[str, Any], timeout: float
    ) -> RunningServer | None:
        """A forked server that printed READY within `timeout`, or None (stopped again)."""
        stderr = str(ctx.log.with_suffix(".stderr"))
        with self._lock:
            if not self._send({"op": "start", "config": config, "stderr": stderr}):
                return None
            deadline = time.monotonic() + timeout
            pid: int | None = None
            seen: dict[str, set[int]] = {"READY": set(), "FAILED": set()}  # child lines may come first
            while pid is None or not (pid in seen["READY"] or pid in seen["FAILED"]):
                line = self._line(deadline)
                if line is None:
                    break
                word, *args = line.split() or [""]
                if not (args and args[-1].isdigit()):
                    continue  # not a line of this protocol
                if word == "STARTED" and pid is None:
                    pid = int(args[0])
                elif word in seen:
                    seen[word].add(int(args[-1]))
            ready = pid in seen["READY"]
        if pid and ready:
            return ForkedServer(self, pid, adapter, ctx)
        if pid:
            self.stop(pid)
        return None

    def alive(self, pid: int) -> bool:
        with self._lock:
            return self._ask({"op": "alive", "pid": pid}, f"ALIVE {pid} ", 5.0) == "1"

    def stop(self, pid: int) -> None:
        """Stop one child; a fork server that does not answer is stopped with its children."""
        with self._lock:
            if self._ask({"op": "stop", "pid": pid}, f"STOPPED {pid}", 2 * STOP_GRACE + 1) is None:
                self.close()

    def close(self) -> None:
        self.lab.stop(self.proc)  # its SIGTERM handler stops its children first

    def _ask(self, req: dict[str, Any], prefix: str, timeout: float) -> str | None:
        if not self._send(req):
            return None
        deadline = time.monotonic() + timeout
        while (line := self._line(deadline)) is not None:
            if line.startswith(prefix):
                return line[len(prefix) :]
        return None

    def _send(self, req: dict[str, Any]) -> bool:
        if not self.usable():
            return False
        assert self.proc.stdin is not None, "spawned with stdin=PIPE"
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            return True
        except (OSError, ValueError):
            return False

    def _line(self, deadline: float) -> str | None:
        """The next reply line, read unbuffered (select sees only what the OS holds)."""
        assert self.proc.stdout is not None, "spawned with stdout=PIPE"
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode(errors="replace").strip()


class ForkedServer(RunningServer):
    """A server process forked by a ForkServer; alive/stop go through it."""

    def __init__(self, fork: ForkServer, pid: int, adapter: ServerAdapter, ctx: ServerContext) -> None:
        super().__init__(fork.lab, None, adapter, ctx, fork.host)
        self.fork, self.pid = fork, pid

    def alive(self) -> bool:
        return self.fork.alive(self.pid)

    def stop(self) -> None:
        self.fork.stop(self.pid)


class ForkServers:
    """An adapter's fork servers, one per (lab, server host), kept for the life of the lab.
    The first request in a lab starts one in every server host of its topology at once, so
    their imports overlap (a load balancer's two servers)."""

    def __init__(self, argv: Callable[[ServerContext], list[str]]) -> None:
        self.argv = argv
        self._by_lab: weakref.WeakKeyDictionary[Lab, dict[str, ForkServer]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, lab: Lab, host: str, ctx: ServerContext) -> ForkServer:
        with self._lock:
            forks = self._by_lab.setdefault(lab, {})
            for h in dict.fromkeys([host, *lab.topology.servers]):
                if h not in forks or not forks[h].usable():
                    forks[h] = ForkServer(lab, h, self.argv(ctx), ctx.log.parent / f"{h}.forkserver.stderr")
            return forks[host]


# --- host side -------------------------------------------------------------------


def serve(run: Callable[[dict[str, Any]], int]) -> int:
    """The fork server's loop: `run(config)` is the server's main, run in each child. Only
    its own children that are not yet reaped are signalled, so a PID is never a stranger's."""
    children: set[int] = set()

    def reply(text: str) -> None:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def term(*_: object) -> None:
        for pid in list(children):
            _stop(pid, children)
        os._exit(0)

    signal.signal(signal.SIGTERM, term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while line := sys.stdin.readline():
        req = json.loads(line)
        if req["op"] == "start":
            pid = os.fork()
            if pid == 0:
                _child(run, req)
            children.add(pid)
            reply(f"STARTED {pid}")
        elif req["op"] == "alive":
            reply(f"ALIVE {req['pid']} {int(_alive(req['pid'], children))}")
        elif req["op"] == "stop":
            _stop(req["pid"], children)
            reply(f"STOPPED {req['pid']}")
    term()
    return 0


def _child(run: Callable[[dict[str, Any]], int], req: dict[str, Any]) -> None:
    """Never returns: the child ends with the server's exit code."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(err, 2)
        os.close(err)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        code = run(req["config"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0
    except BaseException:
        traceback.print_exc()
        print(f"FAILED {os.getpid()}", flush=True)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _alive(pid: int, children: set[int]) -> bool:
    """Whether child `pid` runs; a child that ended is reaped and forgotten."""
    if pid not in children:
        return False
    try:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            return True
    except ChildProcessError:
        pass
    children.discard(pid)
    return False


def _stop(pid: int, children: set[int]) -> None:
    """SIGTERM, then SIGKILL after STOP_GRACE, to an unreaped child of ours."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _alive(pid, children):
            return
        os.kill(pid, sig)  # not yet reaped: the PID cannot have been reused
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            if not _alive(pid, children):
                return
            time.sleep(0.005)
