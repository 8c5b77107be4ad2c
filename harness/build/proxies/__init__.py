"""TCP proxies a middlebox can run (HAProxy): each module registers an adapter that knows how
to start its program, when it is ready, and how to read the connections it relayed from its
own log (a format only the adapter knows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.core.registry import Registry


@dataclass(frozen=True)
class Relayed:
    """One connection a proxy relayed, from its log."""

    dport: int  # the port the client dialled on the proxy
    backend: str  # the server it was sent to
    state: str  # the proxy's termination state, e.g. HAProxy's "--" (normal) or "SC" (server refused)


class ProxyAdapter:
    name = "?"
    label = "?"  # how messages name it

    def argv(self, config: str, env: Sequence[tuple[str, str]]) -> list[str]:
        """The command that runs the proxy in the foreground with `config`."""
        raise NotImplementedError

    def listening(self, env: Sequence[tuple[str, str]]) -> tuple[str, int]:
        """The address and port to wait for: the proxy is ready when it listens there."""
        raise NotImplementedError

    def relayed(self, line: str) -> Relayed | None:
        """A connection the proxy relayed, if its log line says one."""
        raise NotImplementedError


REGISTRY: Registry[ProxyAdapter] = Registry("proxy", __name__)


def register(adapter: ProxyAdapter) -> ProxyAdapter:
    return REGISTRY.add(adapter.name, adapter)


get = REGISTRY.get
