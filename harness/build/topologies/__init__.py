"""The topologies: one YAML file each in the repository's topologies/ folder
(docs/topology-files.md), read by the one registry. Files whose name starts with "_" are
parts other files use (the hairpin layout of server-nat), not topologies of their own.

A topology the operator names by file (`--topology FILE`), a plan's topology with the admin's
rulesets, and two edges composed by name (`client-nat-alg+server-nat`) join a run's Catalog
as values; the registry itself only ever holds the shipped files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from harness.build import topology_file
from harness.build.impairments import with_path
from harness.build.in_family import in_family
from harness.build.topology import Topology
from harness.core import family
from harness.core.case import NetSpec, ServerSpec
from harness.core.registry import Registry
from harness.core.repo import TOPOLOGY_DIR

FOLDER = TOPOLOGY_DIR
Builder = Callable[[ServerSpec, NetSpec], Topology]


@dataclass(frozen=True)
class TopologyKind:
    name: str
    summary: str
    build: Builder
    order: int = 500  # position in listings and reports: simple situations first
    both_families: bool = False  # a matrix runs it over IPv4 and IPv6 unless told otherwise
    with_helper: str = ""  # the topology that is this one with the FTP helper on its firewall
    source: topology_file.Loaded | None = None  # the file it was read from
    default: bool = True  # the default matrix runs it

    def net(self, net: NetSpec) -> NetSpec:
        """The case's network: the file's path conditions where the run sets none."""
        path = self.source.spec.path if self.source else None
        return path.fill(net) if path else net


def from_file(loaded: topology_file.Loaded) -> TopologyKind:
    spec = loaded.spec
    return TopologyKind(
        spec.name,
        spec.summary,
        lambda server, net: topology_file.build(loaded, server, net),
        spec.order,
        both_families="ipv6" in spec.families and "ipv4" in spec.families,
        with_helper=spec.with_helper or "",
        source=loaded,
        default=spec.default,
    )


def read(path: Path) -> TopologyKind:
    """A topology file as a kind (SpecError, exit 2, for a file that does not fit)."""
    return from_file(topology_file.read(path))


def _shipped(registry: Registry[TopologyKind]) -> None:
    for path in sorted(FOLDER.glob("*.yaml")):
        if not path.name.startswith("_"):
            kind = read(path)
            if kind.name != path.stem:
                raise ValueError(f"{path}: its name is {kind.name!r}; a shipped file is named after its topology")
            registry.add(kind.name, kind)


REGISTRY: Registry[TopologyKind] = Registry("topology", load=_shipped)


@dataclass(frozen=True)
class Catalog:
    """The topologies a run can build: the registry's, those a command brings along, and any
    two edges composed by name (`client-nat+server-nat`)."""

    extra: tuple[TopologyKind, ...] = ()

    def get(self, name: str) -> TopologyKind:
        for kind in self.extra:
            if kind.name == name:
                return kind
        if name not in REGISTRY and "+" in name:
            return self._composed(name)
        return REGISTRY.get(name)

    def _composed(self, name: str) -> TopologyKind:
        left, _, right = name.partition("+")
        a, b = self.get(left), self.get(right)
        if a.source is None or b.source is None:
            raise KeyError(f"unknown topology {name!r}: {left} and {right} must both come from files to compose")
        try:
            spec = topology_file.compose_specs(a.source, b.source, name)
        except ValueError as e:
            raise KeyError(str(e)) from None
        return from_file(topology_file.Loaded(a.source.path, spec))

    def names(self) -> list[str]:
        return REGISTRY.names() + [k.name for k in self.extra if k.name not in REGISTRY]

    def plus(self, *kinds: TopologyKind) -> Catalog:
        return replace(self, extra=self.extra + kinds)

    def helper_variants(self) -> dict[str, str]:
        """Each topology that has a variant with the FTP helper -> that variant."""
        return {n: k.with_helper for n in self.names() if (k := self.get(n)).with_helper}

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


def defaults() -> list[str]:
    """The shipped topologies the default matrix runs."""
    return [k.name for k in REGISTRY if k.default]


def both_families() -> list[str]:
    """The shipped topologies a matrix runs in both families by default."""
    return [k.name for k in REGISTRY if k.both_families]
