"""verify: pre-deployment check of an admin's own firewall ruleset.

The plan names the ruleset file (loaded as written into the lab's firewall, with the lab's
addresses supplied as nft variables), the server and its settings, and the clients that must
work. Every case runs through the admin's ruleset. Each failing case runs again through the
harness's reference ruleset; where that passes, the rules it needed (derived and proven by
replay) are compared with the admin's ruleset to name what is missing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import coverage, fixes, spec, topologies
from .inputs import InputError, read_text
from .model import Case, NetSpec, PassiveRange, Result, RuleSet
from .rules import Rule
from .runner import Axes, plan

LAYOUTS = ("server-nat", "direct")  # lab layouts whose one firewall the admin's ruleset replaces
# (the plan schema's `topology` choices come from here: harness/spec.py)


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


def load(path: Path, backend) -> Plan:
    """Read and validate a plan (schema: harness/spec.py, shared with scenarios)."""
    doc, src = spec.load(path, "plan")
    rules_path = (path.parent / doc.ruleset).resolve()
    try:
        read_text(rules_path, "ruleset file")
    except InputError as e:
        raise src.error(("ruleset",), str(e)) from None
    layout = doc.topology
    srv = doc.server
    impl = srv.impl
    tls = tuple(srv.tls or ("explicit",))
    masq = tuple(srv.masquerade or ("on",))
    passive = srv.passive_range or PassiveRange(50000, 50009)
    reuse = tuple(srv.session_reuse or ("default",))

    name = f"plan:{path.stem}"
    variables: dict[str, str] = {}

    def build(server, net):
        topo = topologies.build(layout, server, net)
        box = topo.middleboxes[0]
        defines = dict(box.ruleset.defines)
        defines["PASV_RANGE"] = str(server.passive)
        variables.update(defines)
        own = RuleSet(f"{path.stem} (your ruleset)", (str(rules_path),), tuple(defines.items()),
                      forwards=None)
        hosts = tuple(replace(h, ruleset=own) if h.name == box.name else h for h in topo.hosts)
        return replace(topo, name=name, summary=f"{layout} with {rules_path.name}", hosts=hosts)

    topologies.register(name, f"{layout} with your ruleset {rules_path.name}", build)
    cases: list[Case] = []
    labels: dict[str, str] = {}
    for c in doc.clients:
        axes = Axes(topologies=(name,), modes=tuple(c.modes or ("pasv", "epsv")), tls=tls,
                    pasv_address=tuple(c.pasv_address or ("control",)), masquerade=masq,
                    servers=(impl,), clients=(c.impl,), passive=passive, reuse=reuse)
        for k in plan(axes):
            if k.id not in labels:
                cases.append(k)
                labels[k.id] = c.label or c.impl
    p = Plan(path, src.story, rules_path, layout, name, cases, labels)
    # Fail early, with nft's own words, if the ruleset does not load.
    topo = topologies.build(name, cases[0].server, NetSpec())
    text = topo.middleboxes[0].ruleset.render(lambda f: Path(f).read_text())
    try:
        backend.inspect_ruleset(text)
    except ValueError as e:
        raise src.error(("ruleset",), f"nft refuses {rules_path.name} with the lab's variables "
                        f"({', '.join(variables)}): {e}") from None
    p.variables = variables
    return p


@dataclass
class Finding:
    result: Result  # through the admin's ruleset
    reference: Result | None = None  # the same case through the harness's reference ruleset
    missing: list[Rule] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)


def reference_case(p: Plan, case: Case) -> Case:
    return replace(case, topology=p.layout)


def findings(p: Plan, results: list[Result], reference: list[Result], admin_json: dict[str, Any]) -> list[Finding]:
    ref = {r.case.id: r for r in reference}
    out = []
    for r in results:
        if r.verdict.outcome != "fail":
            continue
        f = Finding(r, ref.get(reference_case(p, r.case).id))
        if f.reference and f.reference.verdict.outcome == "pass" and f.reference.rules:
            needed = [rule for fw in f.reference.rules.values() for rule in fw.rules]
            f.missing = coverage.missing(admin_json, needed)
        elif f.reference:
            f.settings = [f"{x.name}: {x.what}" for x, _ in fixes.candidates(r.case, r.verdict)
                          if x.name not in ("helper",)]
        out.append(f)
    return out


def admin_ruleset(p: Plan, backend) -> dict[str, Any]:
    """The admin's ruleset, with the lab's variables, as `nft -j list ruleset` sees it."""
    case = p.cases[0]
    topo = topologies.build(p.topology, case.server, case.net)
    return backend.inspect_ruleset(topo.middleboxes[0].ruleset.render(lambda f: Path(f).read_text()))


def introduce(p: Plan, console) -> None:
    console.print(f"your ruleset {p.ruleset} runs as the firewall of the lab's {p.layout} layout; "
                  "the lab supplies these variables: " + ", ".join(f"${k}={v}" for k, v in p.variables.items()))


def report(p: Plan, results: list[Result], found: list[Finding], console) -> None:
    from rich.text import Text

    from .reports import terminal
    console.print(terminal.matrix(results))
    for f in found:
        r = f.result
        console.print(Text.assemble(("✗ ", "bold red"), (p.labels.get(r.case.id, ""), "bold"), f"  {r.case.id}"))
        console.print(Text(f"    {r.verdict.stage}: {r.verdict.diagnosis}"))
        if f.missing:
            console.print(Text("    missing from your ruleset (proven necessary by the reference run):",
                               style="bold yellow"))
            for rule in f.missing:
                ports = f" tcp {rule.dports}" if rule.dports else ""
                to = f" -> {rule.to}" if rule.to else ""
                console.print(Text(f"      {rule.kind}{ports}{to}: {rule.why}"))
        elif f.settings:
            console.print(Text("    the reference firewall fails too, so a setting is at fault; fixes that "
                               "apply: " + "; ".join(f.settings), style="yellow"))
        elif f.reference:
            console.print(Text(f"    reference run: {f.reference.verdict.outcome} - "
                               f"{f.reference.verdict.diagnosis}", style="dim"))
    bad = [r for r in results if r.verdict.outcome in ("fail", "error")]
    console.print(Text(f"{len(results) - len(bad)} of {len(results)} required cases work"
                       + ("" if not bad else f"; {len(bad)} do not: not ready to deploy"),
                       style="bold green" if not bad else "bold red"))
