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

import yaml

import clients
import servers

from . import coverage, fixes, topologies
from .model import DATA_MODES, PASV_POLICIES, TLS_MODES, Case, NetSpec, PassiveRange, Result, RuleSet
from .rules import Rule
from .runner import Axes, plan
from .scenario import ScenarioError, Reader

LAYOUTS = ("server-nat", "direct")  # lab layouts whose one firewall the admin's ruleset replaces


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
    rd = Reader(path)
    try:
        text = path.read_text()
        doc = yaml.safe_load(text)
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ScenarioError(f"{path}: not valid YAML: {getattr(e, 'problem', e)}") from None
    story = "\n".join(l[1:].strip() for l in text.splitlines()[:3] if l.startswith("#"))
    doc = rd.mapping(doc, "(top level)", ("ruleset", "topology", "server", "clients"))
    if not isinstance(doc.get("ruleset"), str):
        raise rd.fail("ruleset", "the path of your nftables ruleset file", doc.get("ruleset"))
    rules_path = (path.parent / doc["ruleset"]).resolve()
    if not rules_path.is_file():
        raise ScenarioError(f"{path}: ruleset: file not found: {rules_path}")
    layout = rd.choice(doc.get("topology", "server-nat"), "topology", LAYOUTS)
    srv = rd.mapping(doc.get("server", {}), "server", ("impl", "tls", "masquerade", "passive_range",
                                                        "session_reuse"))
    impl = rd.choice(srv.get("impl", "pyftpdlib"), "server.impl", servers.names())
    tls = rd.choices(srv.get("tls"), "server.tls", TLS_MODES, ("explicit",))
    masq = rd.choices(srv.get("masquerade"), "server.masquerade", ("on", "off"), ("on",))
    passive = rd.range(srv.get("passive_range"), "server.passive_range") or PassiveRange(50000, 50009)
    reuse = rd.choices(srv.get("session_reuse"), "server.session_reuse", ("default", "off"), ("default",))

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
    entries = doc.get("clients")
    if not isinstance(entries, list) or not entries:
        raise rd.fail("clients", "a list of the clients that must work, e.g. [{impl: curl, modes: [epsv]}]",
                      entries)
    for i, c in enumerate(entries):
        c = rd.mapping(c, f"clients[{i}]", ("impl", "modes", "pasv_address", "label"))
        cli = rd.choice(c.get("impl"), f"clients[{i}].impl", clients.names())
        modes = rd.choices(c.get("modes"), f"clients[{i}].modes", DATA_MODES, ("pasv", "epsv"))
        pol = rd.choices(c.get("pasv_address"), f"clients[{i}].pasv_address", PASV_POLICIES, ("control",))
        axes = Axes(topologies=(name,), modes=modes, tls=tls, pasv_address=pol, masquerade=masq,
                    servers=(impl,), clients=(cli,), passive=passive, reuse=reuse)
        for k in plan(axes):
            if k.id not in labels:
                cases.append(k)
                labels[k.id] = str(c.get("label") or cli)
    p = Plan(path, story, rules_path, layout, name, cases, labels)
    # Fail early, with nft's own words, if the ruleset does not load.
    topo = topologies.build(name, cases[0].server, NetSpec())
    text = topo.middleboxes[0].ruleset.render(lambda f: Path(f).read_text())
    try:
        backend.inspect_ruleset(text)
    except ValueError as e:
        raise ScenarioError(f"{path}: ruleset {rules_path.name}: nft refuses it with the lab's "
                            f"variables ({', '.join(variables)}): {e}") from None
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
