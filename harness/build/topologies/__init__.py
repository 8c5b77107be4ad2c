"""The topologies: each module in this package registers one or more kinds by name.

A kind builds pure data (a Topology) from the case's server spec (its passive range, for the
firewall's port forwards) and network spec. Adding a topology means adding one module here.
A command that brings topologies of its own (verify's plan: the admin's ruleset in a layout)
carries them as values in a Catalog, never in the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from harness.build.impairments import with_path
from harness.build.in_family import in_family
from harness.build.topology import Topology
from harness.core import family
from harness.core.case import NetSpec, ServerSpec
from harness.core.registry import Registry

Builder = Callable[[ServerSpec, NetSpec], Topology]


@dataclass(frozen=True)
class TopologyKind:
    name: str
    summary: str
    build: Builder
    order: int = 200  # position in listings and reports: simple situations first
    both_families: bool = False  # a matrix runs it over IPv4 and IPv6 unless told otherwise
    with_helper: str = ""  # the topology that is this one with the FTP helper on its firewall


REGISTRY: Registry[TopologyKind] = Registry("topology", __name__)


def topology(name: str, summary: str, order: int = 100, both_families: bool = False) -> Callable[[Builder], Builder]:
    """Register the decorated builder as the topology `name`."""

    def register(fn: Builder) -> Builder:
        REGISTRY.add(name, TopologyKind(name, summary, fn, order, both_families))
        return fn

    return register


def variants(rows: Iterable[tuple[Any, ...]], builder: Callable[..., Topology], both_families: bool = False) -> None:
    """Register one topology per row (name, order, summary, keyword arguments for `builder`,
    and optionally the name of its variant with the FTP helper)."""
    for name, order, summary, kw, *helper in rows:

        def with_kw(server: ServerSpec, net: NetSpec, kw: dict[str, Any] = kw) -> Topology:
            return builder(server, net, **kw)

        REGISTRY.add(name, TopologyKind(name, summary, with_kw, order, both_families, *helper))


@dataclass(frozen=True)
class Catalog:
    """The topologies a run can build: the registry's, and those a command brings along."""

    extra: tuple[TopologyKind, ...] = ()

    def get(self, name: str) -> TopologyKind:
        for kind in self.extra:
            if kind.name == name:
                return kind
        return REGISTRY.get(name)

    def names(self) -> list[str]:
        return REGISTRY.names() + [k.name for k in self.extra]

    def helper_variants(self) -> dict[str, str]:
        """Each topology that has a variant with the FTP helper -> that variant."""
        return {n: k.with_helper for n in self.names() if (k := self.get(n)).with_helper}

    def plus(self, *kinds: TopologyKind) -> Catalog:
        return replace(self, extra=self.extra + kinds)

    def families(self, name: str) -> tuple[str, ...]:
        """The address families a matrix runs `name` in when none are asked for."""
        kind = self.get(name)
        if kind.both_families or kind.build(ServerSpec(), NetSpec()).dual_stack:
            return family.NAMES
        return self.supported(name)[:1]

    def supported(self, name: str) -> tuple[str, ...]:
        """The families `name` can be built in: both, unless its builder fixes one (nat64)."""
        own = self.get(name).build(ServerSpec(), NetSpec()).family
        return family.NAMES if own == "ipv4" else (own,)

    def build(self, name: str, server: ServerSpec, net: NetSpec = NetSpec()) -> Topology:  # noqa: B008 - frozen
        """The topology's data; its name and summary come from its kind."""
        kind = self.get(name)
        topo = replace(kind.build(server, net), name=kind.name, summary=kind.summary)
        return with_path(in_family(topo, family.get(net.family)), net)


SHIPPED = Catalog()
names, get, build, families, supported = SHIPPED.names, SHIPPED.get, SHIPPED.build, SHIPPED.families, SHIPPED.supported


def both_families() -> list[str]:
    """The shipped topologies a matrix runs in both families by default."""
    return [k.name for k in REGISTRY if k.both_families]
