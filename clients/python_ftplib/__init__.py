"""Python's ftplib as a client: the harness-side adapter of the in-host agent (agent.py).

The adapter keeps one agent process per lab, started in the client host while the servers
start, sends it a Request per case and reads back its ClientReport. The agent knows its
activity exactly when it fails, so nothing here reads exit codes.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
from typing import IO, Any, cast

from clients import ClientAdapter, ClientContext, register
from clients.python_ftplib.agent import Request
from harness.core import codec, family
from harness.core.case import Case
from harness.observe.observation import ClientReport


class AgentDied(Exception):
    """The agent did not answer, or crashed: a harness error, never a verdict."""


class Ftplib(ClientAdapter):
    """Stock ftplib behaviour: no TLS session reuse on data connections."""

    name = "ftplib"
    order = 0
    summary = "Python ftplib (stock: no TLS session reuse); PASV/EPSV/PORT/EPRT"
    keepalive = (
        "TCP keepalive set on the control socket by the agent (SO_KEEPALIVE, TCP_KEEPIDLE); "
        "ftplib itself cannot send NOOP while a transfer runs"
    )
    deadline = 40.0  # a whole session, beyond every per-step timeout
    reuse = False  # pass the control connection's TLS session to data connections
    close_notify = True  # send a TLS close_notify before closing a data connection
    reusing_variant = "ftplib-reuse"

    def __init__(self) -> None:
        self._agents: dict[int, subprocess.Popen[str]] = {}

    def version(self) -> str:
        return f"Python {sys.version.split()[0]} ftplib"

    def supports(self, case: Case) -> str | None:
        if case.client.mode == "port" and case.net.family == "ipv6":
            return "ftplib cannot send PORT on an IPv6 connection: " + family.cannot_carry(
                "PORT", "the client's control connection uses"
            )
        return None

    def prepare(self, lab: Any, host: str, python: str) -> None:
        self._agent(lab, host, python)

    def _agent(self, lab: Any, host: str, python: str) -> subprocess.Popen[str]:
        p = self._agents.get(id(lab))
        if p is None or p.poll() is not None:
            p = lab.spawn(
                host,
                [python, "-m", "clients.python_ftplib.agent", "--agent"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            self._agents[id(lab)] = p
        return p

    def request(self, case: Case, ctx: ClientContext) -> Request:
        """What the agent is asked to do for `case`."""
        return Request(
            host=ctx.host,
            port=ctx.dial_port(case),
            tls=case.server.tls,
            mode=case.client.mode,
            pasv_address=case.client.pasv_address or "control",
            ca=str(ctx.ca),
            user=ctx.user,
            password=ctx.password,
            timeout=ctx.timeout,
            connect_timeout=min(ctx.connect_timeout, ctx.timeout),
            size=ctx.size,
            busy=case.client.busy,
            cwd=ctx.cwd,
            reuse=self.reuse,
            keylog=str(ctx.keylog) if ctx.keylog else None,
            close_notify=self.close_notify,
            tls_version=case.client.tls_version,
            transfers=case.client.transfers,
            verify_cert=case.client.verify_cert,
            keepalive=case.client.keepalive,
            bounds=ctx.bounds,
        )

    def session(self, lab: Any, host: str, case: Case, ctx: ClientContext) -> ClientReport:
        req = self.request(case, ctx)
        deadline = self.deadline + (3 * ctx.bounds.step_s if ctx.bounds else 0)  # three data steps
        p = self._agent(lab, host, ctx.python)
        stdin, stdout = cast(IO[str], p.stdin), cast(IO[str], p.stdout)
        ready: list[Any]
        try:
            stdin.write(json.dumps(codec.encode(req, Request)) + "\n")
            stdin.flush()
            ready, _, _ = select.select([stdout], [], [], deadline)
            line = stdout.readline() if ready else ""
        except OSError as e:
            line, ready = "", [e]
        if not line:
            self.close(lab)
            why = "did not answer" if not ready else "exited"
            raise AgentDied(f"the ftplib agent {why} within {deadline:.0f}s")
        out = json.loads(line)
        if "agent_error" in out:
            raise AgentDied(f"the ftplib agent crashed: {out['agent_error']}")
        return cast(ClientReport, codec.decode(out, ClientReport))

    def interrupt(self, lab: Any) -> bool:
        p = self._agents.get(id(lab))
        return p is not None and bool(lab.signal(p, signal.SIGUSR1))

    def close(self, lab: Any) -> None:
        p = self._agents.pop(id(lab), None)
        if p is not None:
            lab.stop(p, grace=1.0)


register(Ftplib())
