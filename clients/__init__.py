"""Client registry. One module per client implementation registers a ClientAdapter.

An adapter turns a Case into a session run inside the client host and returns the
client's own report (facts: steps, transcript, data connections). It never judges.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.model import Case
from harness.registry import Registry


@dataclass(frozen=True)
class ClientContext:
    host: str            # the address the client dials
    ca: Path             # CA bundle the client verifies the server against
    user: str = "ftpuser"
    password: str = "ftp-secret"
    timeout: float = 4.0  # per network step
    connect_timeout: float = 1.5  # a TCP connect inside the lab that takes longer never completes
    size: int = 1 << 20  # bytes uploaded and downloaded
    cwd: str | None = None  # a directory to change to before writing (server-specific)
    keylog: Path | None = None  # write TLS secrets here (SSLKEYLOGFILE format), if set
    python: str = sys.executable


class ClientAdapter:
    name = "?"
    summary = ""
    order = 50  # position in listings: the embedded one first
    modes: tuple[str, ...] = ("pasv", "epsv", "port", "eprt")

    def supports(self, case: Case) -> str | None:
        """Why this client cannot express `case` (it is then a skip), or None."""
        return None

    def version(self) -> str:
        return ""

    def session(self, lab, host: str, case: Case, ctx: ClientContext) -> dict[str, Any]:
        """Run one session of `case` in `host`; return the client's report."""
        raise NotImplementedError

    def close(self, lab) -> None:
        """Release anything kept alive in `lab` between sessions."""


_REGISTRY: Registry[ClientAdapter] = Registry(__name__, __path__, "client")


def register(adapter: ClientAdapter) -> None:
    _REGISTRY.add(adapter.name, adapter)


names, get = _REGISTRY.names, _REGISTRY.get
