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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any

from harness.core.case import Case
from harness.judge import fixes
from harness.judge.rules import Rule
from harness.judge.verdict import Result, Verdict
from harness.verify import admin_rules
from harness.verify.admin_rules import IPTABLES, Chain, Edit
from harness.verify.plan import LAYOUTS, Plan

Rerun = Callable[[list[Case], bool], list[Result]]  # runs cases for real (True: derive and prove rules)
_ids = count(1)


@dataclass
class Advice:
    """What verify says about one failing case."""

    result: Result
    stopped: list[str] = field(default_factory=list)  # where it stopped, from the trace or by hook
    traced: bool = False
    proven: list[Proven] = field(default_factory=list)  # smallest first, rules-only first
    tried: int = 0  # candidate re-runs
    pieces: list[Any] = field(default_factory=list)  # candidate pieces: Rules and "helper"
    unchanged_passed: int = 0  # re-runs of the case through the unchanged file that passed
    chains: list[Chain] = field(default_factory=list)  # the chains the trace named
    settings: list[str] = field(default_factory=list)  # fixes outside the ruleset that a re-run proved
    reference: Result | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.result.case.id,
            "stopped": self.stopped,
            "traced": self.traced,
            "re_runs": self.tried,
            "passed_unchanged": self.unchanged_passed,
            "settings": self.settings,
            "proven": [{"what": x.edit.what.splitlines(), "setting": x.setting, "diff": x.diff} for x in self.proven],
        }


# --- where it stopped ----------------------------------------------------------------


def stopped_at(result: Result, doc: dict[str, Any], layout: str) -> tuple[list[str], list[Chain], bool]:
    """(descriptions, chains to change, traced?) for a failing case."""
    stops = result.stops
    if stops:
        chains, said = [], []
        failure = result.verdict.evidence.failure
        refused = failure is not None and failure.kind == "refused"  # a reset: the box answered itself
        for p in stops:
            by = p.by
            seen = f"; the client's connection was refused: {p.box} itself answered" if refused else ""
            if by is None:  # accepted on a hook where the admin's ruleset has no chain
                said.append(
                    f"{p.box} took the {p.flags.upper() or p.proto} {p.src}:{p.sport} -> {p.dst}:{p.dport} "
                    f"for itself, untranslated (no rule port-forwarded it): no chain of your ruleset "
                    f"on the {p.hook} hook{seen}"
                )
                continue
            rule = by.quote()
            what = f"the {p.flags.upper() or p.proto} {p.src}:{p.sport} -> {p.dst}:{p.dport}"
            if p.verdict == "accept":  # nothing forwarded it: the box took it for itself
                said.append(
                    f"{p.box} took {what} for itself, untranslated (no rule port-forwarded it): "
                    f"accepted on {p.hook} in chain {by.chain} of table {by.family} {by.table}: "
                    f"{rule}{seen}"
                )
            else:
                said.append(
                    f"{p.box} dropped {what} on {p.hook} in chain {by.chain} of table {by.family} {by.table}: {rule}"
                )
            chains.append(Chain(by.family, by.table, by.chain, p.hook))
        times = Counter(said)  # a retransmitted SYN takes the same path again
        said = [f"{line} ({n} packets: the retransmissions met it too)" if n > 1 else line for line, n in times.items()]
        return said, list(dict.fromkeys(chains)), True
    v = result.verdict
    if v.check == "nat-tuple-clash" or v.evidence.trace:
        # nothing dropped it: the trace's own verdict names the NAT event (or the path it took)
        said = [v.diagnosis.split(" The client saw:")[0]] if v.check == "nat-tuple-clash" else []
        said += [f"trace: {line}" for line in v.evidence.trace]
        return said, [], True
    hook = LAYOUTS[layout].hook
    base = [c for c in admin_rules.base_chains(doc) if c.hook == hook and c.policy]
    why = (
        "traced: no rule or policy of your ruleset dropped it and no NAT event lost it"
        if result.traced
        else "not traced"
    )
    said = (
        [
            f"{why}; new connections through this box are decided on the {hook} hook: "
            + "; ".join(c.describe() for c in base)
        ]
        if base
        else [why]
        if result.traced
        else []
    )
    return said, [], False


# --- candidates ----------------------------------------------------------------------


def _rule_edit(p: Plan, rule: Rule, text: str, doc: dict[str, Any], traced: list[Chain]) -> Edit | None:
    what = _describe(rule)
    if p.syntax == IPTABLES:
        table = "nat" if rule.kind in ("dnat", "snat") else "filter"
        hook = admin_rules.HOOK[rule.kind][1]
        ipt_chain = next(
            (c.name for c in traced if c.table == table and rule.kind in ("filter", "input")),
            admin_rules.IPT_CHAIN[hook],
        )
        return admin_rules.insert_iptables(text, table, ipt_chain, [admin_rules.ipt_line(rule, ipt_chain)], what)
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
    name = {"dnat": "port-forward", "snat": "masquerade", "filter": "allow forwarded", "input": "allow to the box"}[
        rule.kind
    ]
    return f"{name}{ports}{to}"


def _helper_edit(p: Plan, text: str) -> Edit:
    what = "attach the FTP helper (conntrack ftp) to the control port"
    if p.syntax == IPTABLES:
        return admin_rules.insert_iptables(
            text, "raw", "PREROUTING", ["-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp"], what
        )
    return admin_rules.add_table(text, what, admin_rules.helper_table())


def _any_client(rule: Rule) -> Rule:
    """The reference run saw one client; the plan's clients may come from anywhere."""
    return replace(rule, saddr=None) if rule.kind != "snat" else rule


def _any_server(rule: Rule) -> Rule | None:
    """Behind a balancer the reference run saw one server of several: no port forward to that
    one server (it would defeat the balancing), and allow rules for any of them."""
    if rule.kind == "dnat":
        return None
    return replace(rule, daddr=None) if rule.kind == "filter" else rule


def candidates(ref: Result | None, case: Case, balanced: bool) -> list[Rule | str]:
    """Pieces to try: each rule the reference run proved for this box, and the helper (plain
    FTP only)."""
    pieces: list[Any] = []
    if ref and ref.verdict.outcome == "pass" and ref.rules:
        box = next(iter(ref.rules))
        rules = [_any_client(r) for r in ref.rules[box].rules if r.kind in admin_rules.HOOK]
        if balanced:
            rules = [x for x in map(_any_server, rules) if x]
        pieces += list(dict.fromkeys(rules))
    if case.server.tls == "none":
        pieces.append("helper")
    return pieces


def apply(p: Plan, pieces: list[Any], doc: dict[str, Any], chains: list[Chain]) -> Edit | None:
    text, said = p.text, []
    for piece in pieces:
        e = _helper_edit(p, text) if piece == "helper" else _rule_edit(p, piece, text, doc, chains)
        if e is None:
            return None
        text = e.text
        said.append(f"{e.what}, in {e.chain}")
    return Edit("\n".join(said), "", text)


# --- proof by re-run -----------------------------------------------------------------


def _trial(p: Plan, edit: Edit, case: Case, trials: dict[str, str]) -> Case:
    """The case on a topology whose firewall runs `edit` (one topology per distinct text)."""
    name = trials.get(edit.text)
    if name is None:
        name = trials[edit.text] = f"{p.topology}:try{next(_ids)}"
        p.register(name, edit.text)
    return replace(case, topology=name)


@dataclass
class Proven:
    edit: Edit
    pieces: list[Any]
    setting: str | None = None  # a fix outside the ruleset that this change needs too
    diff: str = ""


@dataclass
class _Try:
    advice: Advice
    case: Case  # the failing case, or the case with a setting changed
    pieces: list[Any]
    setting: str | None = None


def prove(p: Plan, failing: list[Result], reference: list[Result], run: Rerun) -> list[Advice]:
    ref = {r.case.id: r for r in reference}
    doc = p.admin_json
    balanced = LAYOUTS[p.layout].balanced
    out = []
    for r in failing:
        a = Advice(r, reference=ref.get(replace(r.case, topology=p.reference).id))
        a.stopped, a.chains, a.traced = stopped_at(r, doc, p.layout)
        a.pieces = candidates(a.reference, r.case, balanced)
        out.append(a)
    _steady(p, out, run)
    out, unsteady = [a for a in out if not a.unchanged_passed], [a for a in out if a.unchanged_passed]
    search = _Search(p, run)
    search.run([_Try(a, a.result.case, a.pieces) for a in out])
    left = [a for a in out if not a.proven]
    _settings(p, left, run)
    # A setting alone did not do it: run each setting through the reference firewall, and try
    # the rules that run proved on the admin's file together with that setting.
    left = [a for a in left if not a.settings]
    tries = [(a, fx, case) for a in left for fx, case in _setting_fixes(a.result.case, a.result.verdict)]
    if tries:
        refs = {
            x.case.id: x for x in run(list({c.id: replace(c, topology=p.reference) for *_, c in tries}.values()), True)
        }
        search.run(
            [
                _Try(
                    a,
                    case,
                    candidates(refs.get(replace(case, topology=p.reference).id), case, balanced),
                    f"{fx.name}: {fx.what} (cost: {fx.cost})",
                )
                for a, fx, case in tries
            ]
        )
    for a in out:
        if a.unchanged_passed:  # it passed unchanged in some round: no pass proves anything
            a.proven, a.settings = [], []
        for x in a.proven:
            x.diff = admin_rules.diff(p.text, x.edit.text, _relpath(p))
        a.proven.sort(key=lambda x: (x.setting is not None, len(x.diff.splitlines())))
    return out + unsteady


def _steady(p: Plan, advice: list[Advice], run: Rerun, rounds: int = 2) -> None:
    """Re-run each failing case through the unchanged file: one that passes now fails only
    sometimes, and one re-run cannot prove that a change fixed it."""
    for _ in range(rounds):
        for r in run(list({a.result.case.id: a.result.case for a in advice}.values()), False):
            if r.verdict.outcome == "pass":
                for a in advice:
                    if a.result.case.id == r.case.id:
                        a.unchanged_passed += 1


class _Search:
    """Singles first; when none passes, everything together, then without each piece."""

    def __init__(self, p: Plan, run: Rerun) -> None:
        self.p, self.runner = p, run
        self.trials: dict[str, str] = {}  # a changed file's text -> its trial topology

    def attempt(self, sets: list[tuple[_Try, list[Any]]]) -> list[tuple[_Try, list[Any], Edit, bool]]:
        """Run each candidate; one that passes runs again, and counts only if it passes twice.
        Each round also re-runs the case through the unchanged file: a round in which that
        passes proves nothing (the case fails only sometimes)."""
        todo = []
        for t, pieces in sets:
            e = apply(self.p, pieces, self.p.admin_json, t.advice.chains)
            if e is not None and e.text != self.p.text:
                todo.append((t, pieces, e, _trial(self.p, e, t.case, self.trials)))
        ok = self._round(todo)
        again = iter(self._round([x for x, good in zip(todo, ok) if good]))  # a pass must hold twice
        return [(t, pieces, e, good and next(again)) for (t, pieces, e, _), good in zip(todo, ok)]

    def _round(self, todo: list[tuple[_Try, list[Any], Edit, Case]]) -> list[bool]:
        if not todo:
            return []
        baseline = {t.case.id: replace(t.case, topology=self.p.topology) for t, *_ in todo}
        cases = {c.id: c for c in [*(c for *_, c in todo), *baseline.values()]}
        results = {x.case.id: x.verdict.outcome == "pass" for x in self.runner(list(cases.values()), False)}
        flaky = {cid for cid, c in baseline.items() if results.get(c.id)}
        for t, *_ in todo:
            t.advice.tried += 1
        for t in {id(t): t for t, *_ in todo}.values():
            if t.case.id in flaky and t.setting is None:
                t.advice.unchanged_passed += 1
        return [results.get(c.id, False) and t.case.id not in flaky for t, _, _, c in todo]

    def run(self, tries: list[_Try]) -> None:
        for t, pieces, e, ok in self.attempt([(u, [x]) for u in tries for x in u.pieces]):
            if ok:
                t.advice.proven.append(Proven(e, pieces, t.setting))
        rest = [t for t in tries if not any(x.setting == t.setting for x in t.advice.proven) and len(t.pieces) > 1]
        together = [(t, e) for t, _, e, ok in self.attempt([(t, t.pieces) for t in rest]) if ok]
        # everything together works: drop each piece once (one batch for all cases)
        drops = self.attempt([(t, [x for x in t.pieces if x is not y]) for t, _ in together for y in t.pieces])
        finals = []
        for t, e in together:
            mine = [ok for u, _, _, ok in drops if u is t]
            needed = [y for y, still in zip(t.pieces, mine) if not still]
            finals.append((t, e, needed if needed and len(mine) == len(t.pieces) else t.pieces))
        proven = {id(t): (n, e) for t, n, e, ok in self.attempt([(t, n) for t, _, n in finals if n != t.pieces]) if ok}
        for t, e, _ in finals:
            n, e2 = proven.get(id(t), (t.pieces, e))
            t.advice.proven.append(Proven(e2, n, t.setting))


def _relpath(p: Plan) -> str:
    """The file name in the diff: relative to the working directory, or (for a file outside
    it: patch refuses absolute and `..` names) to the file's own folder."""
    rel = os.path.relpath(p.ruleset)
    return p.ruleset.name if rel.startswith("..") else rel


def _setting_fixes(case: Case, verdict: Verdict) -> list[tuple[fixes.Fix, Case]]:
    """Registered fixes that change only the server or the client, not the network."""
    return [(fx, c) for fx, c in fixes.candidates(case, verdict) if c.topology == case.topology and c.net == case.net]


def _settings(p: Plan, left: list[Advice], run: Rerun) -> None:
    """Fixes outside the ruleset (server settings, another client), re-run through the
    admin's own ruleset."""
    todo = [(a, fx, case) for a in left for fx, case in _setting_fixes(a.result.case, a.result.verdict)]
    if not todo:
        return
    results = {x.case.id: x for x in run(list({c.id: c for *_, c in todo}.values()), False)}
    for a, fx, case in todo:
        a.tried += 1
        if results[case.id].verdict.outcome == "pass":
            a.settings.append(f"{fx.name}: {fx.what} (cost: {fx.cost})")
