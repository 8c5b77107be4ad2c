"""Topology registry. Each module in this package registers one or more topologies.

A topology is a function of the case's server spec (its passive range, for the firewall's
port forwards) and network spec (e.g. a different forwarded range) that returns pure data. Adding a topology means adding one module here.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, replace
from typing import Callable

from harness.core import family
from harness.core.case import NetSpec, ServerSpec
from harness.build.topology import Topology
from harness.build.topologies._family import in_family
from harness.build.topologies._path import conditions as path_conditions, with_path  # noqa: F401 - path_conditions: the runner's proofs

Builder = Callable[[ServerSpec, NetSpec], Topology]


@dataclass(frozen=True)
class TopologyKind:
    name: str
    summary: str
    build: Builder
    order: int  # position in listings and reports: simple situations first


_REGISTRY: dict[str, TopologyKind] = {}


def topology(name: str, summary: str, order: int = 100) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"topology {name!r} registered twice")
        _REGISTRY[name] = TopologyKind(name, summary, fn, order)
        return fn
    return register


def register(name: str, summary: str, build: Builder, order: int = 200) -> None:
    """Register a topology (modules do at import; `verify` at run time for a plan's ruleset)."""
    _REGISTRY[name] = TopologyKind(name, summary, build, order)


_loaded = False


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def names() -> list[str]:
    _load()
    return sorted(_REGISTRY, key=lambda n: (_REGISTRY[n].order, n))


def get(name: str) -> TopologyKind:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown topology {name!r}; valid: {', '.join(_REGISTRY)}") from None


# The core topologies run in both families by default; the others in IPv4 unless asked.
DUAL_STACK = ("direct", "server-nat", "server-nat-alg", "client-nat", "client-nat-alg")


def families(name: str) -> tuple[str, ...]:
    """The address families a matrix runs `name` in when none are asked for."""
    if name in DUAL_STACK or get(name).build(ServerSpec(), NetSpec()).dual_stack:
        return family.NAMES
    return supported(name)[:1]


def supported(name: str) -> tuple[str, ...]:
    """The families `name` can be built in: both, unless its builder fixes one (nat64)."""
    own = get(name).build(ServerSpec(), NetSpec()).family
    return family.NAMES if own == "ipv4" else (own,)


def build(name: str, server: ServerSpec, net: NetSpec = NetSpec()) -> Topology:
    """The topology's data; its name and summary come from its registry entry."""
    kind = get(name)
    topo = replace(kind.build(server, net), name=kind.name, summary=kind.summary)
    return with_path(in_family(topo, family.get(net.family)), net)


def variants(rows, builder) -> None:
    """Register one topology per row (name, order, summary, keyword arguments for `builder`)."""
    for name, order, summary, kw in rows:
        register(name, summary, lambda server, net, kw=kw: builder(server, net, **kw), order)
