"""verify: pre-deployment check of an admin's own firewall ruleset (the plan file).

The plan names the ruleset file (nftables, loaded as written with the lab's addresses as
variables, or an iptables-save file, loaded by iptables-nft-restore), the layout, the server
and its settings, and the clients that must work. Every case runs through the admin's ruleset;
advise.py proves changes to that file for the cases that fail.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
import shutil
import tempfile
from typing import Any

import yaml

import clients
import servers

from . import admin_rules, topologies
from .paths import nat_file
from .model import DATA_MODES, PASV_POLICIES, TLS_MODES, Case, NetSpec, PassiveRange, Result, RuleSet
from .runner import Axes, plan
from .scenario import ScenarioError, Reader

@dataclass(frozen=True)
class Layout:
    name: str
    reference: str  # the registered topology whose one firewall the admin's ruleset replaces
    what: str
    hook: str = "forward"  # where this box decides new connections of the case
    balanced: bool = False  # several servers behind it: advice names none of them


LAYOUTS = {x.name: x for x in (
    Layout("server-nat", "server-nat", "your firewall port-forwards to the server (inbound NAT)"),
    Layout("direct", "direct", "your firewall routes to a public server (no NAT)"),
    Layout("client-nat", "client-nat", "your outbound firewall in front of the clients (active mode too)"),
    Layout("lb-haproxy", "lb-source", "your ruleset on the balancer box, HAProxy (balance source) behind it",
           "input", True),
    Layout("lb-nft", "lb-nft-source", "your ruleset on the balancer box; it does the balancing itself "
                                      "($VIP $S1 $S2)", balanced=True),
)}


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

    @property
    def reference(self) -> str:
        return LAYOUTS[self.layout].reference

    def register(self, name: str, text: str) -> None:
        """A topology `name`: the layout with `text` (the admin's file or a changed copy) as
        its firewall's ruleset."""
        copy = self.workdir / name.replace(":", "_").replace("/", "_") / self.ruleset.name  # trace sources
        copy.parent.mkdir()  # keep the admin's file name
        copy.write_text(admin_rules.absolute_includes(text, self.ruleset.parent)
                        if self.syntax == admin_rules.NFT else text)

        def build(server, net):
            topo = topologies.build(self.reference, server, net)
            box = topo.middleboxes[0]
            defines = dict(box.ruleset.defines)
            defines["PASV_RANGE"] = str(server.passive)
            self.variables.update(defines)
            own = RuleSet(f"{self.ruleset.name} (your ruleset)", (str(copy),), tuple(defines.items()),
                          forwards=None, syntax=self.syntax)
            hosts = tuple(replace(h, ruleset=own) if h.name == box.name else h for h in topo.hosts)
            return replace(topo, hosts=hosts)

        topologies.register(name, f"{self.layout} with {self.ruleset.name}", build)


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
        raise rd.fail("ruleset", "the path of your nftables or iptables-save ruleset file", doc.get("ruleset"))
    rules_path = (path.parent / doc["ruleset"]).resolve()
    if not rules_path.is_file():
        raise ScenarioError(f"{path}: ruleset: file not found: {rules_path}")
    layout = rd.choice(doc.get("topology", "server-nat"), "topology", tuple(LAYOUTS))
    srv = rd.mapping(doc.get("server", {}), "server", ("impl", "tls", "masquerade", "passive_range",
                                                        "session_reuse"))
    impl = rd.choice(srv.get("impl", "pyftpdlib"), "server.impl", servers.names())
    tls = rd.choices(srv.get("tls"), "server.tls", TLS_MODES, ("explicit",))
    masq = rd.choices(srv.get("masquerade"), "server.masquerade", ("on", "off"), ("on",))
    passive = rd.range(srv.get("passive_range"), "server.passive_range") or PassiveRange(50000, 50009)
    reuse = rd.choices(srv.get("session_reuse"), "server.session_reuse", ("default", "off"), ("default",))

    name = f"plan:{path.stem}"
    admin_text = rules_path.read_text(errors="replace")
    p = Plan(path, story, rules_path, layout, name, [], syntax=admin_rules.syntax(admin_text),
             text=admin_text, workdir=Path(tempfile.mkdtemp(prefix="ftps-verify-")))
    p.register(name, admin_text)
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
            if k.id not in p.labels:
                p.cases.append(k)
                p.labels[k.id] = str(c.get("label") or cli)
    # Fail early, with nft's (or iptables-restore's) own words, if the ruleset does not load.
    box = topologies.build(name, p.cases[0].server, NetSpec()).middleboxes[0].ruleset
    rendered = box.render(nat_file)
    try:
        p.admin_json = backend.inspect_ruleset(rendered, box.loader)
    except ValueError as e:
        shutil.rmtree(p.workdir, ignore_errors=True)
        offset = rendered.count("\n") - admin_text.count("\n")
        what = ("iptables-nft-restore refuses it" if p.syntax == admin_rules.IPTABLES else
                f"nft refuses it with the lab's variables ({', '.join(p.variables)})")
        raise ScenarioError(f"{path}: ruleset {rules_path.name}: {what}:\n"
                            + admin_rules.load_error(str(e), rules_path, offset)) from None
    return p


def introduce(p: Plan, console) -> None:
    where = f"runs as the firewall of the lab's {p.layout} layout ({LAYOUTS[p.layout].what})"
    values = ", ".join(f"${k}={v}" for k, v in p.variables.items())
    if p.syntax == admin_rules.IPTABLES:
        console.print(f"your iptables-save file {p.ruleset} {where}; iptables-save has no variables, so it "
                      f"names the lab's own addresses and interfaces: {values.replace('$', '')}")
    else:
        console.print(f"your ruleset {p.ruleset} {where}; the lab supplies these variables: {values}")


def report(p: Plan, results: list[Result], advice: list, console) -> None:
    from rich.text import Text

    from .reports import terminal
    console.print(terminal.matrix(results))
    shown: dict[str, str] = {}
    for a in advice:
        r = a.result
        console.print(Text.assemble(("✗ ", "bold red"), (p.labels.get(r.case.id, ""), "bold"), f"  {r.case.id}"))
        console.print(Text(f"    {r.verdict.stage}: {r.verdict.diagnosis}"))
        for line in a.stopped:
            console.print(Text(f"    stopped: {line}", style="dim" if not a.traced else ""))
        if a.unchanged_passed:
            console.print(Text(f"    this case passed {a.unchanged_passed} time(s) when re-run through your "
                               "unchanged file: it fails only sometimes, so no re-run can prove that a change "
                               "fixed it; the diagnosis above is what this run saw", style="yellow"))
        elif a.proven:
            console.print(Text(f"    proven by re-running this case through your changed file "
                               f"({a.tried} re-runs; smallest first):", style="bold yellow"))
            for x in a.proven:
                d = x.diff
                if x.setting:
                    console.print(Text(f"    - outside the ruleset too: {x.setting}", style="yellow"))
                console.print(Text("\n".join(f"    - {w}" for w in x.edit.what.splitlines())))
                if d in shown:
                    console.print(Text(f"      (the same diff as for {shown[d]})", style="dim"))
                    continue
                shown[d] = r.case.id
                console.print(Text("\n".join("      " + l for l in d.splitlines())), highlight=False,
                              soft_wrap=True)
        elif a.settings:
            console.print(Text("    nothing in your ruleset fixes this case; a re-run through your ruleset "
                               "passed with: " + "; ".join(a.settings), style="yellow"))
        else:
            ref = a.reference
            why = f" (the reference firewall: {ref.verdict.outcome}: {ref.verdict.diagnosis})" if ref else ""
            console.print(Text(f"    no change proven: {a.tried} candidate re-runs, none passed{why}",
                               style="yellow"))
    bad = [r for r in results if r.verdict.outcome in ("fail", "error")]
    console.print(Text(f"{len(results) - len(bad)} of {len(results)} required cases work"
                       + ("" if not bad else f"; {len(bad)} do not: not ready to deploy"),
                       style="bold green" if not bad else "bold red"))


def write_patches(p: Plan, advice: list, folder: Path) -> list[Path]:
    """The smallest proven change of each failing case, one file per distinct change
    (`patch -p0 < FILE`)."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for a in advice:
        if a.proven and a.proven[0].diff not in out:
            path = folder / f"{len(out) + 1:02d}-{p.labels.get(a.result.case.id, 'case')}.patch"
            path.write_text(a.proven[0].diff)
            out[a.proven[0].diff] = path
    return list(out.values())
