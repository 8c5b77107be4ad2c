"""verify: pre-deployment check of an admin's own firewall ruleset (the plan file).

The plan names the ruleset file (nftables, loaded as written with the lab's addresses as
variables, or an iptables-save file, loaded by iptables-nft-restore), the layout, the server
and its settings, and the clients that must work. Every case runs through the admin's ruleset;
advise.py proves changes to that file for the cases that fail.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.build import topologies
from harness.build.topologies import Catalog, TopologyKind
from harness.build.topology import Middlebox, RuleSet, Topology
from harness.core.case import PASSIVE_MODES, Case, NetSpec, PassiveRange, ServerSpec
from harness.core.inputs import InputError, read_text
from harness.core.repo import nat_file
from harness.judge.verdict import Result
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


# The plan schema's `topology` choices come from here (harness/spec.py).
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
class Plan:
    path: Path
    story: str
    ruleset: Path
    layout: str
    topology: str  # the registered name of the layout running the admin's ruleset
    cases: list[Case]
    labels: dict[str, str] = field(default_factory=dict)  # case id -> client label
    variables: dict[str, str] = field(default_factory=dict)
    syntax: str = admin_rules.NFT
    text: str = ""  # the admin's file as written
    workdir: Path | None = None  # lab copies of the admin's file and of candidate changes
    admin_json: dict[str, Any] = field(default_factory=dict)  # as `nft -j list ruleset` shows it
    catalog: Catalog = field(default_factory=Catalog)  # the layout with the admin's file, and each trial

    @property
    def reference(self) -> str:
        return LAYOUTS[self.layout].reference

    def register(self, name: str, text: str) -> None:
        """A topology `name`: the layout with `text` (the admin's file or a changed copy) as
        its firewall's ruleset."""
        assert self.workdir is not None, "load() makes it"
        copy = self.workdir / name.replace(":", "_").replace("/", "_") / self.ruleset.name  # trace sources
        copy.parent.mkdir()  # keep the admin's file name
        copy.write_text(
            admin_rules.absolute_includes(text, self.ruleset.parent) if self.syntax == admin_rules.NFT else text
        )

        def build(server: ServerSpec, net: NetSpec) -> Topology:
            topo = topologies.build(self.reference, server, net)
            box = topo.middleboxes[0]
            assert box.ruleset is not None, "the layout's firewall"
            defines = dict(box.ruleset.defines)
            defines["PASV_RANGE"] = str(server.passive)
            self.variables.update(defines)
            own = RuleSet(
                f"{self.ruleset.name} (your ruleset)",
                (str(copy),),
                tuple(defines.items()),
                forwards=None,
                syntax=self.syntax,
            )
            hosts = tuple(
                replace(h, ruleset=own) if isinstance(h, Middlebox) and h.name == box.name else h for h in topo.hosts
            )
            return replace(topo, hosts=hosts)

        self.catalog = self.catalog.plus(TopologyKind(name, f"{self.layout} with {self.ruleset.name}", build))


def load(path: Path, backend: Backend) -> Plan:
    """Read and validate a plan (schema: harness/spec.py, shared with scenarios)."""
    doc, src = spec.load(path, "plan", NAMES)
    rules_path = (path.parent / doc.ruleset).resolve()
    try:
        admin_text = read_text(rules_path, "ruleset file")
    except InputError as e:
        raise src.error(("ruleset",), str(e)) from None
    srv = doc.server
    tls = tuple(srv.tls or ("explicit",))
    masq = tuple(srv.masquerade or ("on",))
    passive = srv.passive_range or PassiveRange(50000, 50009)
    reuse = tuple(srv.session_reuse or ("default",))

    name = f"plan:{path.stem}"
    p = Plan(
        path,
        src.story,
        rules_path,
        doc.topology,
        name,
        [],
        syntax=admin_rules.syntax(admin_text),
        text=admin_text,
        workdir=Path(tempfile.mkdtemp(prefix="ftps-verify-")),
    )
    p.register(name, admin_text)
    for c in doc.clients:
        axes = Axes(
            topologies=(name,),
            modes=tuple(c.modes or PASSIVE_MODES),
            tls=tls,
            pasv_address=tuple(c.pasv_address or ("control",)),
            masquerade=masq,
            servers=(srv.impl,),
            clients=(c.impl,),
            passive=passive,
            reuse=reuse,
            net=NetSpec(mtu=doc.path.mtu or 0, rate=doc.path.rate or ""),
            keepalive=c.keepalive or 0,
        )
        for k in plan(axes, p.catalog):
            if k.id not in p.labels:
                p.cases.append(k)
                p.labels[k.id] = c.label or c.impl
    # Fail early, with nft's (or iptables-restore's) own words, if the ruleset does not load.
    box = p.catalog.build(name, p.cases[0].server, NetSpec()).middleboxes[0].ruleset
    assert box is not None and p.workdir is not None, "register() gave the layout's firewall the admin's ruleset"
    rendered = box.render(nat_file)
    try:
        p.admin_json = backend.inspect_ruleset(rendered, box.loader)
    except ValueError as e:
        shutil.rmtree(p.workdir, ignore_errors=True)
        offset = rendered.count("\n") - admin_text.count("\n")
        what = (
            f"iptables-nft-restore refuses {rules_path.name}"
            if p.syntax == admin_rules.IPTABLES
            else f"nft refuses {rules_path.name} with the lab's variables ({', '.join(p.variables)})"
        )
        raise src.error(("ruleset",), f"{what}:\n" + admin_rules.load_error(str(e), rules_path, offset)) from None
    return p


def introduce(p: Plan, console: Console) -> None:
    where = f"runs as the firewall of the lab's {p.layout} layout ({LAYOUTS[p.layout].what})"
    values = ", ".join(f"${k}={v}" for k, v in p.variables.items())
    if p.syntax == admin_rules.IPTABLES:
        console.print(
            f"your iptables-save file {p.ruleset} {where}; iptables-save has no variables, so it "
            f"names the lab's own addresses and interfaces: {values.replace('$', '')}"
        )
    else:
        console.print(f"your ruleset {p.ruleset} {where}; the lab supplies these variables: {values}")


class ProvenChange(Protocol):
    """advise.Proven, as the report reads it (advise imports this module)."""

    @property
    def edit(self) -> admin_rules.Edit: ...
    @property
    def setting(self) -> str | None: ...
    @property
    def diff(self) -> str: ...


class CaseAdvice(Protocol):
    """advise.Advice, as the report reads it (advise imports this module)."""

    @property
    def result(self) -> Result: ...
    @property
    def stopped(self) -> Sequence[str]: ...
    @property
    def traced(self) -> bool: ...
    @property
    def proven(self) -> Sequence[ProvenChange]: ...
    @property
    def tried(self) -> int: ...
    @property
    def unchanged_passed(self) -> int: ...
    @property
    def settings(self) -> Sequence[str]: ...
    @property
    def reference(self) -> Result | None: ...


def report(p: Plan, results: list[Result], advice: Sequence[CaseAdvice], console: Console) -> None:
    from rich.text import Text

    from harness.report import terminal

    console.print(terminal.matrix(results))
    shown: dict[str, str] = {}
    for a in advice:
        r = a.result
        console.print(Text.assemble(("✗ ", "bold red"), (p.labels.get(r.case.id, ""), "bold"), f"  {r.case.id}"))
        console.print(Text(f"    {r.verdict.stage}: {r.verdict.diagnosis}"))
        for line in a.stopped:
            console.print(Text(f"    stopped: {line}", style="dim" if not a.traced else ""))
        if a.unchanged_passed:
            console.print(
                Text(
                    f"    this case passed {a.unchanged_passed} time(s) when re-run through your "
                    "unchanged file: it fails only sometimes, so no re-run can prove that a change "
                    "fixed it; the diagnosis above is what this run saw",
                    style="yellow",
                )
            )
        elif a.proven:
            console.print(
                Text(
                    f"    proven by re-running this case through your changed file "
                    f"({a.tried} re-runs; smallest first):",
                    style="bold yellow",
                )
            )
            for x in a.proven:
                d = x.diff
                if x.setting:
                    console.print(Text(f"    - outside the ruleset too: {x.setting}", style="yellow"))
                console.print(Text("\n".join(f"    - {w}" for w in x.edit.what.splitlines())))
                if d in shown:
                    console.print(Text(f"      (the same diff as for {shown[d]})", style="dim"))
                    continue
                shown[d] = r.case.id
                console.print(Text("\n".join("      " + l for l in d.splitlines())), highlight=False, soft_wrap=True)
        elif a.settings:
            console.print(
                Text(
                    "    nothing in your ruleset fixes this case; a re-run through your ruleset "
                    "passed with: " + "; ".join(a.settings),
                    style="yellow",
                )
            )
        else:
            ref = a.reference
            why = f" (the reference firewall: {ref.verdict.outcome}: {ref.verdict.diagnosis})" if ref else ""
            console.print(Text(f"    no change proven: {a.tried} candidate re-runs, none passed{why}", style="yellow"))
    bad = [r for r in results if r.verdict.outcome in ("fail", "error")]
    console.print(
        Text(
            f"{len(results) - len(bad)} of {len(results)} required cases work"
            + ("" if not bad else f"; {len(bad)} do not: not ready to deploy"),
            style="bold green" if not bad else "bold red",
        )
    )


def write_patches(p: Plan, advice: Sequence[CaseAdvice], folder: Path) -> list[tuple[Path, str]]:
    """The smallest proven change of each failing case, one file per distinct change; each
    with the command that applies it."""
    folder.mkdir(parents=True, exist_ok=True)
    where = "" if not os.path.relpath(p.ruleset).startswith("..") else f" -d {p.ruleset.parent}"
    out: dict[str, tuple[Path, str]] = {}
    for a in advice:
        if a.proven and a.proven[0].diff not in out:
            path = folder / f"{len(out) + 1:02d}-{p.labels.get(a.result.case.id, 'case')}.patch"
            path.write_text(a.proven[0].diff)
            out[a.proven[0].diff] = (path, f"patch -p0{where} < {path}")
    return list(out.values())
