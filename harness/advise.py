"""verify's advice, proven on the admin's own file: for each failing case, candidate changes
to that file are run again for real, and only those that made the case pass are reported.

Candidates come from the reference run's proven rules (harness/rules), the fixes registry (the
FTP helper; settings outside the ruleset) and the packet trace (the chain whose rule or policy
stopped the connection; without a trace, the base chain of the hook). Singles are tried first;
when none passes, all of them together, then that set without each piece in turn, so what is
reported is needed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any, Callable

from . import admin_rules, fixes
from .admin_rules import IPTABLES, Chain, Edit
from .model import Case, Result
from .verify import LAYOUTS
from .rules import Rule

Run = Callable[[list[Case]], list[Result]]  # runs cases for real (a label for progress)
_ids = count(1)


@dataclass
class Advice:
    """What verify says about one failing case."""
    result: Result
    stopped: list[str] = field(default_factory=list)  # where it stopped, from the trace or by hook
    traced: bool = False
    proven: list[tuple[Edit, str]] = field(default_factory=list)  # (edit, its diff), smallest first
    tried: int = 0  # candidate re-runs
    pieces: list[Any] = field(default_factory=list)  # candidate pieces: Rules and "helper"
    chains: list[Chain] = field(default_factory=list)  # the chains the trace named
    settings: list[str] = field(default_factory=list)  # fixes outside the ruleset that a re-run proved
    reference: Result | None = None


# --- where it stopped ----------------------------------------------------------------

def trace_stops(result: Result) -> list[Any]:
    """The TracePaths (harness/trace.py) of this case that ended in a drop or reject."""
    obs = getattr(result, "observation", None)
    boxes = getattr(obs, "middleboxes", None) or {}
    return [path for view in boxes.values() for path in getattr(view, "trace", None) or []
            if getattr(path, "verdict", "") in ("drop", "reject") and getattr(path, "by", None)]




def stopped_at(result: Result, doc: dict[str, Any], layout: str) -> tuple[list[str], list[Chain], bool]:
    """(descriptions, chains to change, traced?) for a failing case."""
    stops = trace_stops(result)
    if stops:
        chains, said = [], []
        for p in stops:
            by = p.by
            where = f" ({by.source})" if getattr(by, "source", None) else ""
            rule = "policy drop" if by.handle is None else f"rule handle {by.handle}: {by.text}"
            said.append(f"{p.box} {p.verdict}ped the {p.flags.upper() or 'packet'} {p.proto} {p.src}:{p.sport} -> "
                        f"{p.dst}:{p.dport} on {p.hook} in chain {by.chain} of table {by.family} {by.table}: "
                        f"{rule}{where}")
            chains.append(Chain(by.family, by.table, by.chain, p.hook))
        return said, list(dict.fromkeys(chains)), True
    hook = LAYOUTS[layout].hook
    base = [c for c in admin_rules.base_chains(doc) if c.hook == hook and c.policy]
    said = [f"not traced; new connections through this box are decided on the {hook} hook: "
            + "; ".join(c.describe() for c in base)] if base else []
    return said, [], False


# --- candidates ----------------------------------------------------------------------

def _rule_edit(p, rule: Rule, text: str, doc: dict[str, Any], traced: list[Chain]) -> Edit | None:
    what = _describe(rule)
    if p.syntax == IPTABLES:
        table = "nat" if rule.kind in ("dnat", "snat") else "filter"
        hook = admin_rules.HOOK[rule.kind][1]
        chain = next((c.name for c in traced if c.table == table and rule.kind in ("filter", "input")),
                     admin_rules.IPT_CHAIN[hook])
        return admin_rules.insert_iptables(text, table, chain, [admin_rules.ipt_line(rule, chain)], what)
    line = admin_rules.nft_line(rule, p.variables, p.text)
    if rule.kind in ("filter", "input"):
        hook = admin_rules.HOOK[rule.kind][1]
        chain = next((c for c in traced if c.hook == hook), None) or admin_rules.chain_for(doc, rule.kind)
        if chain is None:
            return None  # no chain on that hook: nothing is filtered there
        return admin_rules.insert_nft(text, chain, [line], what)
    chain = admin_rules.chain_for(doc, rule.kind)  # a nat chain; without one, a table of its own
    return admin_rules.insert_nft(text, chain or Chain("inet", "", "", admin_rules.HOOK[rule.kind][1]), [line], what)


def _describe(rule: Rule) -> str:
    ports = f" tcp {rule.dports}" if rule.dports else ""
    to = f" to {rule.to}" if rule.to and rule.kind == "dnat" else ""
    name = {"dnat": "port-forward", "snat": "masquerade", "filter": "allow forwarded",
            "input": "allow to the box"}[rule.kind]
    return f"{name}{ports}{to}" + (f" ({rule.why})" if rule.why else "")


def _helper_edit(p, text: str) -> Edit:
    what = "attach the FTP helper (conntrack ftp) to the control port"
    if p.syntax == IPTABLES:
        return admin_rules.insert_iptables(text, "raw", "PREROUTING",
                                           ["-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp"], what)
    return admin_rules.add_table(text, what + " (a table of its own: helpers are assigned by a rule)",
                                 admin_rules.helper_table())


def _any_client(rule: Rule) -> Rule:
    """The reference run saw one client; the plan's clients may come from anywhere."""
    return replace(rule, saddr=None) if rule.kind != "snat" else rule


def _any_server(rule: Rule) -> Rule | None:
    """Behind a balancer the reference run saw one server of several: no port forward to that
    one server (it would defeat the balancing), and allow rules for any of them."""
    if rule.kind == "dnat":
        return None
    return replace(rule, daddr=None) if rule.kind == "filter" else rule


def candidates(f: Advice, balanced: bool) -> list[Rule | str]:
    """Pieces to try: each reference rule for this box, and the helper (plain FTP only)."""
    pieces: list[Any] = []
    ref = f.reference
    if ref and ref.verdict.outcome == "pass" and ref.rules:
        box = next(iter(ref.rules))
        rules = [_any_client(r) for r in ref.rules[box].rules]
        if balanced:
            rules = [x for x in map(_any_server, rules) if x]
        pieces += list(dict.fromkeys(rules))
    if f.result.case.server.tls == "none":
        pieces.append("helper")
    return pieces


def apply(p, pieces: list[Any], doc: dict[str, Any], chains: list[Chain]) -> Edit | None:
    text, whats, where = p.text, [], []
    for piece in pieces:
        e = _helper_edit(p, text) if piece == "helper" else _rule_edit(p, piece, text, doc, chains)
        if e is None:
            return None
        text = e.text
        whats.append(e.what)
        where.append(e.chain)
    return Edit("; ".join(whats), "; ".join(dict.fromkeys(where)), text)


# --- proof by re-run -----------------------------------------------------------------

def _trial(p, edit: Edit, case: Case, trials: dict[str, str]) -> Case:
    """The case on a topology whose firewall runs `edit` (one topology per distinct text)."""
    name = trials.get(edit.text)
    if name is None:
        name = trials[edit.text] = f"{p.topology}:try{next(_ids)}"
        p.register(name, edit.text)
    return replace(case, topology=name)


def prove(p, failing: list[Result], reference: list[Result], run: Run) -> list[Advice]:
    ref = {r.case.id: r for r in reference}
    doc = p.admin_json
    out, trials = [], {}
    for r in failing:
        a = Advice(r, reference=ref.get(replace(r.case, topology=p.reference).id))
        a.stopped, chains, a.traced = stopped_at(r, doc, p.layout)
        a.pieces, a.chains = candidates(a, LAYOUTS[p.layout].balanced), chains
        out.append(a)

    def attempt(sets: list[tuple[Advice, list[Any]]]) -> list[tuple[Advice, list[Any], Edit, bool]]:
        todo = []
        for a, pieces in sets:
            e = apply(p, pieces, doc, a.chains)
            if e is not None and e.text != p.text:
                todo.append((a, pieces, e, _trial(p, e, a.result.case, trials)))
        results = {x.case.id: x for x in run(list({c.id: c for *_, c in todo}.values()))} if todo else {}
        got = []
        for a, pieces, e, c in todo:
            a.tried += 1
            got.append((a, pieces, e, results[c.id].verdict.outcome == "pass"))
        return got

    singles = attempt([(a, [x]) for a in out for x in a.pieces])
    for a, pieces, e, ok in singles:
        if ok:
            a.proven.append((e, pieces))
    rest = [a for a in out if not a.proven and len(a.pieces) > 1]
    for a, pieces, e, ok in attempt([(a, a.pieces) for a in rest]):
        if ok:  # all together works: drop what it does not need, then prove the remainder
            drops = attempt([(a, [x for x in pieces if x is not y]) for y in pieces])
            needed = [y for y, (_, _, _, still) in zip(pieces, drops) if not still]
            if needed and needed != pieces:
                final = attempt([(a, needed)])
                a.proven.append(next(((e2, n) for _, n, e2, ok2 in final if ok2), (e, pieces)))
            else:
                a.proven.append((e, pieces))
    for a in out:
        a.proven.sort(key=lambda ep: len(admin_rules.diff(p.text, ep[0].text, "x").splitlines()))
        a.proven = [(e, admin_rules.diff(p.text, e.text, _relpath(p))) for e, _ in a.proven]
    _settings(p, [a for a in out if not a.proven], run)
    return out


def _relpath(p) -> str:
    rel = os.path.relpath(p.ruleset)
    return rel if not rel.startswith("..") else str(p.ruleset)


def _settings(p, left: list[Advice], run: Run) -> None:
    """Fixes outside the ruleset (server settings, another client), re-run through the
    admin's own ruleset."""
    todo = []
    for a in left:
        for fx, case in fixes.candidates(a.result.case, a.result.verdict):
            if case.topology == a.result.case.topology and case.net == a.result.case.net:
                todo.append((a, fx, case))
    if not todo:
        return
    results = {x.case.id: x for x in run(list({c.id: c for *_, c in todo}.values()))}
    for a, fx, case in todo:
        a.tried += 1
        if results[case.id].verdict.outcome == "pass":
            a.settings.append(f"{fx.name}: {fx.what} (cost: {fx.cost})")
