"""Client registry. One module per client implementation registers a ClientAdapter.

An adapter turns a Case into a session run inside the client host and returns the
client's own report (harness/observe/observation.py ClientReport: steps, transcript,
connections, the failure as facts: the client's message, exit status, activity). It never
judges, nor assigns stages (harness/judge/stages.py does); it declares what its own exit
statuses and messages mean (exit_says), and its known bugs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clients._wire import Bounds
from harness.core.case import Case
from harness.core.login import TEST_LOGIN
from harness.core.registry import Registry
from harness.observe.observation import ClientReport, ExitSays, Failure

if TYPE_CHECKING:
    from harness.build.backends.base import Lab


@dataclass(frozen=True)
class ClientContext:
    host: str  # the address the client dials
    ca: Path  # CA bundle the client verifies the server against
    user: str = TEST_LOGIN[0]
    password: str = TEST_LOGIN[1]
    timeout: float = 4.0  # per network step
    connect_timeout: float = 1.5  # a TCP connect inside the lab that takes longer never completes
    size: int = 1 << 20  # bytes uploaded and downloaded
    cwd: str | None = None  # a directory to change to before writing (server-specific)
    keylog: Path | None = None  # write TLS secrets here (SSLKEYLOGFILE format), if set
    log: Path | None = None  # with --capture: the client's own verbose log, whole (a ticket's attachment)
    python: str = sys.executable
    bounds: Bounds | None = None  # the probe's read bounds (clients/_wire.py), e.g. for a large file
    port: int = 0  # the port the client dials when the path publishes the control port as another (a NodePort)

    def dial_port(self, case: Case) -> int:
        """The port this session dials: the case's control port, unless published as another."""
        return self.port or case.server.control_port


@dataclass(frozen=True)
class KnownBug:
    """A bug of this client, recognised by its own error message."""

    says: str  # a fragment of the client's error message
    explain: str  # the diagnosis; {error} is replaced by the client's message


class ClientAdapter:
    name = "?"
    label = ""  # how a diagnosis names it; default: name
    summary = ""
    reuses_tls_sessions = False  # passes the control connection's TLS session to data connections
    reusing_variant = ""  # the registered client that is this one with TLS session reuse, if any
    clean_variant = ""  # the registered client that is this one sending close_notify, if any
    known_bugs: tuple[KnownBug, ...] = ()
    keepalive = ""  # how it keeps an idle control connection alive during a transfer; "": it cannot
    order = 50  # position in listings: the embedded one first

    def supports(self, case: Case) -> str | None:
        """Why this client cannot express `case` (it is then a skip), or None."""
        return None

    def version(self) -> str:
        return ""

    def exit_says(self, failure: Failure) -> ExitSays | None:
        """What this client's exit status and message say happened (None: nothing)."""
        return None

    def session(self, lab: Lab, host: str, case: Case, ctx: ClientContext) -> ClientReport:
        """Run one session of `case` in `host`; return the client's report (facts only)."""
        raise NotImplementedError

    def prepare(self, lab: Lab, host: str, python: str) -> None:
        """Start what this client keeps in `lab` between sessions (while the servers start)."""

    def interrupt(self, lab: Lab) -> bool:
        """Stop the connection wait of the session running in `lab` (harness/run/early_stop.py);
        False where this client cannot be told (it then waits for its own timeout)."""
        return False

    def close(self, lab: Lab) -> None:
        """Release anything kept alive in `lab` between sessions."""


_REGISTRY: Registry[ClientAdapter] = Registry("client", __name__)


def register(adapter: ClientAdapter) -> None:
    _REGISTRY.add(adapter.name, adapter)


names, get = _REGISTRY.names, _REGISTRY.get


def keeping_alive() -> list[str]:
    """The clients that can keep the control connection alive during a transfer, by label."""
    return [get(n).label or n for n in names() if get(n).keepalive]


def reusing_sessions() -> list[str]:
    """The clients that reuse TLS sessions on data connections, by label: clients of their
    own first, then the reusing variants of other clients."""
    adapters = [get(n) for n in names()]
    variants = {a.reusing_variant for a in adapters}
    return [a.label or a.name for a in sorted(adapters, key=lambda a: a.name in variants) if a.reuses_tls_sessions]
