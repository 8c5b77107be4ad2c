"""verify: pre-deployment check of an admin's own firewall rulesets (the plan file).

A plan names either one ruleset file and the layout it runs in (its one firewall replaced by
the admin's file), or a topology file whose boxes carry the admin's rulesets (any chain of
NATs, firewalls, balancers and host firewalls: docs/topology-files.md). Rulesets are
nftables (loaded as written; a layout supplies the lab's addresses as variables) or
iptables-save files (loaded by iptables-nft-restore). The plan also names the server, its
settings and the clients that must work. Every case runs through the admin's rulesets;
advise.py proves changes to those files, box by box, for the cases that fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.build import topologies
from harness.build.topologies import Catalog, TopologyKind
from harness.build.topology import Middlebox, RuleSet, Topology
from harness.core.case import PASSIVE_MODES, Case, NetSpec, PassiveRange, ServerSpec
from harness.core.inputs import InputError, read_text
from harness.core.repo import nat_file
from harness.core.yamlfile import Source
from harness.plan import spec
from harness.plan.axes import Axes, plan
from harness.verify import admin_rules

if TYPE_CHECKING:
    from rich.console import Console

    from harness.build.backends.base import Backend


@dataclass(frozen=True)
class Layout:
    name: str
    reference: str  # the registered topology whose one firewall the admin's ruleset replaces
    what: str
    hook: str = "forward"  # where this box decides new connections of the case
    balanced: bool = False  # several servers behind it: advice names none of them


# The plan schema's `topology` choices come from here (harness/plan/spec.py), besides files.
LAYOUTS = {
    x.name: x
    for x in (
        Layout("server-nat", "server-nat", "your firewall port-forwards to the server (inbound NAT)"),
        Layout("direct", "direct", "your firewall routes to a public server (no NAT)"),
        Layout("client-nat", "client-nat", "your outbound firewall in front of the clients (active mode too)"),
        Layout(
            "lb-haproxy",
            "lb-source",
            "your ruleset on the balancer box, HAProxy (balance source) behind it",
            "input",
            True,
        ),
        Layout(
            "lb-nft",
            "lb-nft-source",
            "your ruleset on the balancer box; it does the balancing itself ($VIP $S1 $S2)",
            balanced=True,
        ),
    )
}

NAMES = spec.Names(layouts=tuple(LAYOUTS))


@dataclass
class AdminBox:
    """One box of the plan's topology that runs a ruleset file of the admin's."""

    name: str
    path: Path  # the admin's file (the first, where edits go, if the box loads several)
    text: str  # as written
    syntax: str = admin_rules.NFT
    hook: str = "forward"  # where this box decides new connections: forward, or input (a host firewall)
    balanced: bool = False  # several servers behind it
    variables: dict[str, str] = field(default_factory=dict)  # the lab's values for its $VARIABLES
    admin_json: dict[str, Any] = field(default_factory=dict)  # as `nft -j list ruleset` shows it


@dataclass
class Plan:
    path: Path
    story: str
    topology: str  # the name of the plan's topology (the admin's rulesets in place)
    cases: list[Case]
    boxes: dict[str, AdminBox] = field(default_factory=dict)
    layout: str | None = None  # the layout, when the plan names one ruleset and a layout
    labels: dict[str, str] = field(default_factory=dict)  # case id -> client label
    workdir: Path | None = None  # lab copies of the admin's files and of candidate changes
    catalog: Catalog = field(default_factory=Catalog)  # the plan's topology, and each trial
    base: TopologyKind | None = None  # builds the topology, given each box's ruleset file

    @property
    def reference(self) -> str | None:
        """The shipped topology whose own rulesets are known to work, where there is one."""
        return LAYOUTS[self.layout].reference if self.layout else None

    def register(self, name: str, texts: dict[str, str]) -> None:
        """A topology `name`: the plan's, with `texts` (box -> the admin's file or a changed
        copy) as those boxes' rulesets; boxes not named keep the admin's file as written."""
        assert self.workdir is not None and self.base is not None, "load() makes them"
        copies: dict[str, Path] = {}
        for box, a in self.boxes.items():
            copy = self.workdir / name.replace(":", "_").replace("/", "_") / box / a.path.name  # trace sources
            copy.parent.mkdir(parents=True)  # keep the admin's file name
            text = texts.get(box, a.text)
            copy.write_text(admin_rules.absolute_includes(text, a.path.parent) if a.syntax == admin_rules.NFT else text)
            copies[box] = copy
        base = self.base

        def build(server: ServerSpec, net: NetSpec) -> Topology:
            topo = base.build(server, net)
            hosts = []
            for h in topo.hosts:
                if isinstance(h, Middlebox) and h.name in copies and h.ruleset is not None:
                    files = (str(copies[h.name]), *h.ruleset.files[1:])
                    h = replace(h, ruleset=replace(h.ruleset, files=files))
                hosts.append(h)
            return replace(topo, hosts=tuple(hosts))

        self.catalog = self.catalog.plus(TopologyKind(name, base.summary, build, base.order, source=base.source))


def load(path: Path, backend: Backend, topology: Path | None = None) -> Plan:
    """Read and validate a plan (schema: harness/plan/spec.py, shared with scenarios).
    `topology`: a topology file, its boxes carrying the rulesets, instead of the plan's own
    topology (verify --topology)."""
    doc, src = spec.load(path, "plan", NAMES)
    if topology is not None:
        if doc.ruleset is not None:
            raise src.error(("ruleset",), "with --topology FILE, the rulesets are on the file's boxes: drop this key")
        doc = spec.with_topology(doc, os.path.relpath(topology.resolve(), path.parent.resolve()))
    workdir = Path(tempfile.mkdtemp(prefix="ftps-verify-"))
    try:
        p = _with_file(path, doc, src, workdir) if spec.is_file(doc.topology) else _with_layout(path, doc, src, workdir)
        _plan_cases(p, doc)
        _preflight(p, src, backend)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return p


def _with_layout(path: Path, doc: spec.PlanDoc, src: Source, workdir: Path) -> Plan:
    """One ruleset file, as the one firewall of a layout (its variables supplied by the lab)."""
    assert doc.ruleset is not None, "the schema asks for it with a layout"
    rules_path = (path.parent / doc.ruleset).resolve()
    try:
        text = read_text(rules_path, "ruleset file")
    except InputError as e:
        raise src.error(("ruleset",), str(e)) from None
    layout = LAYOUTS[doc.topology]
    reference = topologies.get(layout.reference)
    box = topologies.build(layout.reference, ServerSpec(), NetSpec()).middleboxes[0].name
    syntax = admin_rules.syntax(text)
    admin = AdminBox(box, rules_path, text, syntax, layout.hook, layout.balanced)

    def build(server: ServerSpec, net: NetSpec) -> Topology:
        topo = topologies.build(layout.reference, server, net)
        fw = next(h for h in topo.middleboxes if h.name == box)
        assert fw.ruleset is not None, "the layout's firewall"
        defines = dict(fw.ruleset.defines)
        defines["PASV_RANGE"] = str(server.passive)
        admin.variables.update(defines)
        own = RuleSet(
            f"{rules_path.name} (your ruleset)",
            (str(rules_path),),
            tuple(defines.items()),
            forwards=None,
            syntax=syntax,
        )
        hosts = tuple(replace(h, ruleset=own) if isinstance(h, Middlebox) and h.name == box else h for h in topo.hosts)
        return replace(topo, hosts=hosts)

    name = f"plan:{path.stem}"
    base = TopologyKind(name, f"{layout.name} with {rules_path.name}", build, reference.order)
    p = Plan(path, src.story, name, [], {box: admin}, doc.topology, workdir=workdir, base=base)
    p.register(name, {})
    return p


def _with_file(path: Path, doc: spec.PlanDoc, src: Source, workdir: Path) -> Plan:
    """A topology file whose boxes carry the admin's rulesets (files outside the harness's nat/)."""
    topo_path = (path.parent / doc.topology).resolve()
    if not topo_path.exists():
        raise src.error(("topology",), f"no such topology file {topo_path}")
    kind = topologies.read(topo_path)
    built = kind.build(ServerSpec(), NetSpec())
    boxes = {}
    for h in built.middleboxes:
        if h.ruleset is None or not Path(h.ruleset.files[0]).is_absolute():
            continue  # no ruleset, or the harness's own (nat/)
        own = Path(h.ruleset.files[0])
        text = read_text(own, f"{h.name}'s ruleset file")
        role = h.role if h.role in ("client", "server") else "router"
        boxes[h.name] = AdminBox(
            h.name,
            own,
            text,
            h.ruleset.syntax,
            "input" if role != "router" or h.proxy else "forward",
            balanced=len(built.servers) > 1 and h.proxy is None and role == "router",
            variables=dict(h.ruleset.defines),
        )
    if not boxes:
        raise src.error(("topology",), f"{topo_path.name} gives no box a ruleset file of yours to verify")
    p = Plan(path, src.story, kind.name, [], boxes, workdir=workdir, base=kind)
    p.register(kind.name, {})
    return p


def _plan_cases(p: Plan, doc: spec.PlanDoc) -> None:
    srv = doc.server
    for c in doc.clients:
        axes = Axes(
            topologies=(p.topology,),
            modes=tuple(c.modes or PASSIVE_MODES),
            tls=tuple(srv.tls or ("explicit",)),
            pasv_address=tuple(c.pasv_address or ("control",)),
            masquerade=tuple(srv.masquerade or ("on",)),
            servers=(srv.impl,),
            clients=(c.impl,),
            passive=srv.passive_range or PassiveRange(50000, 50009),
            reuse=tuple(srv.session_reuse or ("default",)),
            net=NetSpec(mtu=doc.path.mtu or 0, rate=doc.path.rate or ""),
            keepalive=c.keepalive or 0,
            families=("ipv4",),  # an admin's ruleset names IPv4 addresses
        )
        for k in plan(axes, p.catalog):
            if k.id not in p.labels:
                p.cases.append(k)
                p.labels[k.id] = c.label or c.impl


def _preflight(p: Plan, src: Source, backend: Backend) -> None:
    """Fail early, with nft's (or iptables-restore's) own words, if a ruleset does not load."""
    topo = p.catalog.build(p.topology, p.cases[0].server, NetSpec())
    for box, a in p.boxes.items():
        rs = next(h.ruleset for h in topo.middleboxes if h.name == box)
        assert rs is not None, "an admin box has a ruleset"
        rendered = rs.render(nat_file)
        try:
            a.admin_json = backend.inspect_ruleset(rendered, rs.loader)
        except ValueError as e:
            offset = rendered.count("\n") - a.text.count("\n")
            what = (
                f"iptables-nft-restore refuses {a.path.name} on {box}"
                if a.syntax == admin_rules.IPTABLES
                else f"nft refuses {a.path.name} on {box}"
                + (f" with the lab's variables ({', '.join(a.variables)})" if a.variables else "")
            )
            at = ("ruleset",) if p.layout else ("topology",)
            raise src.error(at, f"{what}:\n" + admin_rules.load_error(str(e), a.path, offset)) from None


def introduce(p: Plan, console: Console) -> None:
    for box, a in p.boxes.items():
        if p.layout:
            where = f"runs as the firewall of the lab's {p.layout} layout ({LAYOUTS[p.layout].what})"
        else:
            where = f"runs on {box} in {p.topology}"
        values = ", ".join(f"${k}={v}" for k, v in a.variables.items() if f"${k}" in a.text)
        if a.syntax == admin_rules.IPTABLES:
            console.print(f"your iptables-save file {a.path} {where}")
        else:
            console.print(
                f"your ruleset {a.path} {where}" + (f"; the lab supplies these variables: {values}" if values else "")
            )
