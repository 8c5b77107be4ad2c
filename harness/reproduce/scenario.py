"""Scenario files: a customer's setup in a few lines of YAML, validated with precise errors.

    topology: server-nat                 # or {name: server-nat, helper: on, forward_range: none},
                                         # or a topology file: our-network.yaml
    server: {impl: vsftpd, tls: explicit, masquerade: off, passive_range: 50000-50100}
    clients: [{impl: curl}, {impl: ftplib, pasv_address: control}]
    modes: [pasv, epsv]
    expect: {outcome: fail, stage: data-connect}

The schema is harness/plan/spec.py (shared with verify's plans). Every error names the file, the
line, the key path and the valid choices (ScenarioError -> exit 2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.build import topologies
from harness.build.topologies import Catalog
from harness.core.case import PASSIVE_MODES, Case, NetSpec, PassiveRange
from harness.core.outcome import Outcome, Stage
from harness.core.yamlfile import Source, SpecError
from harness.judge import checks
from harness.judge.verdict import Result
from harness.plan import spec
from harness.plan.axes import Axes, plan

ALG = topologies.SHIPPED.helper_variants()
ScenarioError = SpecError  # the name callers know
NAMES = spec.Names(checks=tuple(checks.names()))


def described(case: Case) -> dict[str, Any]:
    """describe(), with the TLS axes that results leave out at their defaults."""
    return {"tls_version": "1.3", "transfers": 1, "verify_cert": "on", **case.describe()}


@dataclass
class Expectation:
    outcome: Outcome | None = None
    stage: Stage | None = None
    check: str | None = None
    match: dict[str, str] = field(default_factory=dict)

    def applies(self, case: dict[str, Any]) -> bool:
        return all(str(case.get(k)) == v for k, v in self.match.items())

    def differs(self, r: Result) -> str | None:
        v = r.verdict
        got = f"{v.outcome}" + (f" at {v.stage}" if v.stage else "") + (f" ({v.check})" if v.check else "")
        for key, want, have in (
            ("outcome", self.outcome, v.outcome),
            ("stage", self.stage, v.stage),
            ("check", self.check, v.check),
        ):
            if want is not None and want != have:
                return f"expected {key} {want}, got {got}"
        return None


@dataclass
class Scenario:
    path: Path
    story: str
    cases: list[Case]
    expectations: list[Expectation]
    waits_for: str | None = None  # a scenario that cannot run yet says what it waits for
    catalog: Catalog = topologies.SHIPPED  # with the scenario's topology file, if it names one

    def check(self, results: list[Result]) -> list[tuple[Result, str]]:
        """(result, what differs) for every case whose reality differs from `expect`."""
        out = []
        for r in results:
            desc = described(r.case)
            for e in reversed(self.expectations):  # later, more specific entries win
                if e.applies(desc):
                    why = e.differs(r)
                    if why:
                        out.append((r, why))
                    break
        return out


@dataclass
class Suite:
    """Several scenario files run as one: their cases together, each file's `expect` held
    against its own cases."""

    scenarios: list[Scenario]

    @property
    def cases(self) -> list[Case]:
        return list({c.id: c for sc in self.scenarios for c in sc.cases}.values())

    @property
    def catalog(self) -> Catalog:
        extra = {k.name: k for sc in self.scenarios for k in sc.catalog.extra}
        return topologies.SHIPPED.plus(*extra.values())

    @property
    def expectations(self) -> list[Expectation]:
        return [e for sc in self.scenarios for e in sc.expectations]

    def check(self, results: list[Result]) -> list[tuple[Result, str]]:
        out = []
        for sc in self.scenarios:
            mine = {c.id for c in sc.cases}
            out += sc.check([r for r in results if r.case.id in mine])
        return out


def load_all(paths: list[Path], topology: Path | None = None) -> Suite:
    return Suite([load(p, topology) for p in paths])


def load(path: Path, topology: Path | None = None) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError with a precise message.
    `topology`: a topology file that replaces the scenario's own (reproduce --topology)."""
    doc, src = spec.load(path, "scenario", NAMES)
    if doc.waits_for:
        return Scenario(path, src.story, [], [], waits_for=doc.waits_for)
    topo = doc.topology
    name, catalog = topo.name, topologies.SHIPPED
    file = topology or (path.parent / name if spec.is_file(name) else None)
    if file is not None:
        if not file.is_file():
            raise src.error(("topology", "name"), f"no topology file {file}")
        kind = topologies.read(file)
        catalog, name = catalog.plus(kind), kind.name
        if topo.helper is not None:
            raise src.error(
                ("topology", "helper"), "a topology file says on its own boxes whether they run the FTP helper"
            )
    names: tuple[str, ...] = (name,)
    if file is None and topo.helper is not None:
        base = next((k for k, v in ALG.items() if name in (k, v)), None)
        if base is None:
            raise src.error(
                ("topology", "helper"), f"topology {name!r} has no FTP helper variant; those that do: {', '.join(ALG)}"
            )
        names = tuple(dict.fromkeys(ALG[base] if h == "on" else base for h in topo.helper))
    fwd = topo.forward_range
    net = NetSpec(
        forward_range=fwd if isinstance(fwd, PassiveRange) else None,
        forward_none=fwd == "none",
        mtu=topo.mtu or 0,
        icmp=topo.icmp or "pass",
        idle_timeout=topo.idle_timeout or 0,
        rate=topo.rate or "",
        mss_clamp=topo.mss_clamp == "on",
        port_map=topo.port_map,
        hairpin=topo.hairpin == "on",
        hairpin_nat=topo.hairpin_nat == "on",
    )
    srv = doc.server
    tls = tuple(srv.tls or ("explicit",))
    cases: list[Case] = []
    for c in doc.clients:
        axes = Axes(
            topologies=names,
            modes=tuple(doc.modes or PASSIVE_MODES),
            tls=tls,
            pasv_address=tuple(c.pasv_address or ("trust",)),
            masquerade=tuple(srv.masquerade or ("off",)),
            servers=(srv.impl,),
            clients=(c.impl,),
            passive=srv.passive_range or PassiveRange(50000, 50009),
            net=net,
            busy=doc.busy_sessions,
            permit_foreign=tuple(srv.permit_foreign_addresses or ("off",)),
            reuse=tuple(srv.session_reuse or ("default",)),
            tls_versions=tuple(doc.tls_version or ("1.3",)),
            transfers=doc.transfers,
            verify_cert=tuple(doc.verify_cert or ("on",)),
            keepalive=c.keepalive or 0,
        )
        cases += [k for k in plan(axes, catalog) if k.id not in {x.id for x in cases}]
    return Scenario(path, src.story, cases, _expect(src, doc.expect, cases), catalog=catalog)


def _expect(src: Source, raw: spec.ExpectDoc | None, cases: list[Case]) -> list[Expectation]:
    """The `expect` entries; each `match:` value must be one this scenario runs."""
    if raw is None:
        return []
    out = []
    if any(v is not None for v in (raw.outcome, raw.stage, raw.check)):
        out.append(Expectation(raw.outcome, raw.stage, raw.check))
    runs = [described(c) for c in cases]
    for i, c in enumerate(raw.cases):
        match = {k: v for k, v in c.match.model_dump().items() if v is not None}
        for key, value in match.items():
            values = list(dict.fromkeys(str(d[key]) for d in runs))
            if value not in values:
                raise src.error(
                    ("expect", "cases", i, "match", key),
                    f"expected one of {', '.join(values)} (the {key} values this scenario runs), got {value!r}",
                )
        if not any(all(str(d[k]) == v for k, v in match.items()) for d in runs):
            raise src.error(("expect", "cases", i, "match"), "matches none of the scenario's cases")
        out.append(Expectation(c.outcome, c.stage, c.check, match))
    return out
