"""verify's advice, proven on the admin's own files: for each failing case, candidate changes
to those files are run again for real, and only those that made the case pass are reported,
each box's change as a diff of that box's file.

Candidates come first from the admin's own rules that were meant for the traffic and did
nothing (intent.py: the smallest change to that very rule), then from the reference run's
proven rules (a layout's shipped firewall, where the plan names a layout), the packet trace
(the box and chain whose rule or policy stopped the connection: an accept for what it
dropped, a port-forward for what it took for itself), and the fixes registry (the FTP
helper; settings outside the rulesets). Singles are tried first; when none passes, all of
them together, then that set without each piece in turn, so what is reported is needed. A
change to the admin's own rule that passed is reported first.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import count
from pathlib import Path
from typing import Any

from harness.core.case import Case
from harness.core.outcome import STAGES
from harness.judge import fixes
from harness.judge.rules import Rule
from harness.judge.verdict import Result, Verdict
from harness.observe.trace import TracePath
from harness.verify import admin_rules, intent, mend, nft_model
from harness.verify.admin_rules import IPTABLES, Chain, Edit
from harness.verify.intent import Intent
from harness.verify.mend import Mend
from harness.verify.plan import AdminBox, Plan

Rerun = Callable[[list[Case], bool], list[Result]]  # runs cases for real (True: derive and prove rules)
Piece = tuple[str, Any]  # (box, a Mend of the admin's own rule, a Rule or "helper")
_ids = count(1)


@dataclass
class Advice:
    """What verify says about one failing case."""

    result: Result
    stopped: list[str] = field(default_factory=list)  # where it stopped, from the trace or by hook
    traced: bool = False
    proven: list[Proven] = field(default_factory=list)  # smallest first, rules-only first
    tried: int = 0  # candidate re-runs
    pieces: list[Piece] = field(default_factory=list)  # candidate pieces: (box, a Mend, a Rule or "helper")
    intents: list[Intent] = field(default_factory=list)  # the admin's own rules meant for it that did nothing
    failed: dict[Piece, Result] = field(default_factory=dict)  # single pieces whose re-run still failed
    unchanged_passed: int = 0  # re-runs of the case through the unchanged file that passed
    chains: list[tuple[str, Chain]] = field(default_factory=list)  # (box, chain) the trace named
    settings: list[str] = field(default_factory=list)  # fixes outside the ruleset that a re-run proved
    reference: Result | None = None
    # a change that got the case past where it stopped, and the run that then failed later
    progress: list[tuple[list[Piece], dict[str, Edit], Result]] = field(default_factory=list)

    def mended(self, i: Intent) -> Proven | None:
        """The proof of `i`'s change to the admin's rule on its own, if a re-run gave one."""
        return next((x for x in self.proven if x.pieces == [(i.box, i.mend)] and x.setting is None), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.result.case.id,
            "stopped": self.stopped,
            "intents": [
                {
                    **i.to_json(),
                    "proven": (x := self.mended(i)) is not None,
                    "diff": x.diffs.get(i.box, "") if x else "",
                    "tried": short(r) if i.mend and (r := self.failed.get((i.box, i.mend))) else None,
                }
                for i in self.intents
            ],
            "traced": self.traced,
            "re_runs": self.tried,
            "passed_unchanged": self.unchanged_passed,
            "settings": self.settings,
            "proven": [
                {
                    "setting": x.setting,
                    "changes": [
                        {"box": b, "what": e.what.splitlines(), "diff": x.diffs.get(b, "")} for b, e in x.edits.items()
                    ],
                }
                for x in self.proven
            ],
        }


# --- where it stopped ----------------------------------------------------------------


def stopped_at(result: Result, p: Plan) -> tuple[list[str], list[tuple[str, Chain]], bool]:
    """(descriptions, (box, chain) to change, traced?) for a failing case."""
    stops = result.stops
    if stops:
        chains: list[tuple[str, Chain]] = []
        said = []
        failure = result.verdict.evidence.failure
        refused = failure is not None and failure.kind == "refused"  # a reset: the box answered itself
        for s in stops:
            by = s.by
            seen = f"; the client's connection was refused: {s.box} itself answered" if refused else ""
            what = f"the {s.flags.upper() or s.proto} {s.src}:{s.sport} -> {s.dst}:{s.dport}"
            if by is None:  # accepted on a hook where the admin's ruleset has no chain
                said.append(
                    f"{s.box} took {what} for itself, untranslated (no rule port-forwarded it): no chain of "
                    f"your ruleset on the {s.hook} hook{seen}"
                )
                continue
            if s.verdict == "accept":  # nothing forwarded it: the box took it for itself
                said.append(
                    f"{s.box} took {what} for itself, untranslated (no rule port-forwarded it): "
                    f"accepted on {s.hook} in chain {by.chain} of table {by.family} {by.table}: "
                    f"{by.quote()}{seen}"
                )
            else:
                said.append(
                    f"{s.box} dropped {what} on {s.hook} in chain {by.chain} of table {by.family} {by.table}: "
                    f"{by.quote()}"
                )
            chains.append((s.box, Chain(by.family, by.table, by.chain, s.hook)))
        times = Counter(said)  # a retransmitted SYN takes the same path again
        said = [f"{line} ({n} packets: the retransmissions met it too)" if n > 1 else line for line, n in times.items()]
        return said, list(dict.fromkeys(chains)), True
    v = result.verdict
    if v.check == "nat-tuple-clash" or v.evidence.trace:
        # nothing dropped it: the trace's own verdict names the NAT event (or the path it took)
        said = [v.diagnosis.split(" The client saw:")[0]] if v.check == "nat-tuple-clash" else []
        said += [f"trace: {line}" for line in v.evidence.trace]
        return said, [], True
    why = (
        "traced: no rule or policy of your ruleset dropped it and no NAT event lost it"
        if result.traced
        else "not traced"
    )
    said = []
    for a in p.boxes.values():
        base = [c for c in admin_rules.base_chains(a.admin_json) if c.hook == a.hook and c.policy]
        if base:
            on = f" on {a.name}" if len(p.boxes) > 1 else ""
            said.append(
                f"{why}; new connections{on} are decided on the {a.hook} hook: " + "; ".join(c.describe() for c in base)
            )
    return (said or ([why] if result.traced else [])), [], False


# --- candidates ----------------------------------------------------------------------


def _rule_edit(a: AdminBox, rule: Rule, text: str, traced: list[Chain]) -> Edit | None:
    what = _describe(rule)
    doc = a.admin_json
    if a.syntax == IPTABLES:
        table = "nat" if rule.kind in ("dnat", "snat") else "filter"
        hook = admin_rules.HOOK[rule.kind][1]
        ipt_chain = next(
            (c.name for c in traced if c.table == table and rule.kind in ("filter", "input")),
            admin_rules.IPT_CHAIN[hook],
        )
        return admin_rules.insert_iptables(text, table, ipt_chain, [admin_rules.ipt_line(rule, ipt_chain)], what)
    line = admin_rules.nft_line(rule, a.variables, a.text)
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


def _helper_edit(a: AdminBox, text: str) -> Edit:
    what = "attach the FTP helper (conntrack ftp) to the control port"
    if a.syntax == IPTABLES:
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


def intents(p: Plan, r: Result) -> list[Intent]:
    """The admin's own rules (nft files) meant for what failed that did nothing (intent.py)."""
    out = []
    for box, a in p.boxes.items():
        f = intent.facts(r, box, a.variables)
        if f is None or a.syntax != admin_rules.NFT or not a.admin_json:
            continue
        out += intent.find(nft_model.ruleset(a.admin_json, a.text, a.path.name), f)
    return out


def candidates(p: Plan, ref: Result | None, case: Case, stops: list[TracePath]) -> list[Piece]:
    """Pieces to try, box by box: each rule the reference run proved for the layout's box; for
    what the trace saw stopped, an accept (or a port-forward) in the box that stopped it; and
    the FTP helper (plain FTP only)."""
    pieces: list[Piece] = []
    if ref and ref.verdict.outcome == "pass" and ref.rules and len(p.boxes) == 1:
        (box,) = p.boxes
        fw = next(iter(ref.rules))
        rules = [_any_client(r) for r in ref.rules[fw].rules if r.kind in admin_rules.HOOK]
        if p.boxes[box].balanced:
            rules = [x for x in map(_any_server, rules) if x]
        pieces += [(box, r) for r in dict.fromkeys(rules)]
    if p.reference is None:
        pieces += _from_trace(p, case, stops)
    if case.server.tls == "none":
        pieces += [(b, "helper") for b, a in p.boxes.items() if a.hook == "forward" or len(p.boxes) == 1]
    return list(dict.fromkeys(pieces))


def _ports(case: Case, port: int) -> str:
    """A data port stands for the passive range the path forwards; a control port for itself."""
    rng = case.net.forwarded(case.server)
    return str(rng) if port in rng else str(port)


def _from_trace(p: Plan, case: Case, stops: list[TracePath]) -> list[Piece]:
    """What would have let each stopped SYN through, in the box that stopped it."""
    out: list[Piece] = []
    for s in stops:
        a = p.boxes.get(s.box)
        if a is None or not s.syn:
            continue
        ports = _ports(case, s.dport)
        if s.verdict == "accept" and s.hook == "input" and a.hook == "forward":  # taken for itself
            target = admin_rules.dnat_target(a.admin_json, case.server.control_port)
            if target:
                out.append((s.box, Rule("dnat", daddr=s.dst, dports=ports, to=target, why="from the trace")))
        elif s.hook == "input":
            out.append((s.box, Rule("input", dports=ports, why="from the trace")))
        elif s.hook == "forward":
            out.append((s.box, Rule("filter", daddr=s.dst, dports=ports, why="from the trace")))
    return out


def apply(p: Plan, pieces: list[Piece], chains: list[tuple[str, Chain]]) -> dict[str, Edit] | None:
    """Each box's changed file (boxes without a piece are left out); None if a piece has no place."""
    out: dict[str, Edit] = {}
    for box in dict.fromkeys(b for b, _ in pieces):
        a = p.boxes[box]
        mends = [x for b, x in pieces if b == box and isinstance(x, Mend)]
        # mends edit lines of the file as written: they go first
        text, said = mend.apply_all(a.text, mends), [f"your rule at {x.rule}: {x.what}" for x in mends]
        traced = [c for b, c in chains if b == box]
        for _, piece in (x for x in pieces if x[0] == box and not isinstance(x[1], Mend)):
            e = _helper_edit(a, text) if piece == "helper" else _rule_edit(a, piece, text, traced)
            if e is None:
                return None
            text = e.text
            said.append(f"{e.what}, in {e.chain}")
        out[box] = Edit("\n".join(said), "", text)
    return out


# --- proof by re-run -----------------------------------------------------------------


def _trial(p: Plan, edits: dict[str, Edit], case: Case, trials: dict[tuple[tuple[str, str], ...], str]) -> Case:
    """The case on a topology whose boxes run `edits` (one topology per distinct set of texts)."""
    key = tuple(sorted((b, e.text) for b, e in edits.items()))
    name = trials.get(key)
    if name is None:
        name = trials[key] = f"{p.topology}:try{next(_ids)}"
        p.register(name, {b: e.text for b, e in edits.items()})
    return replace(case, topology=name)


@dataclass
class Proven:
    edits: dict[str, Edit]  # box -> its changed file
    pieces: list[Piece]
    setting: str | None = None  # a fix outside the ruleset that this change needs too
    diffs: dict[str, str] = field(default_factory=dict)  # box -> the diff of its file

    @property
    def size(self) -> int:
        return sum(len(d.splitlines()) for d in self.diffs.values())


@dataclass
class _Try:
    advice: Advice
    case: Case  # the failing case, or the case with a setting changed
    pieces: list[Piece]
    setting: str | None = None


def prove(p: Plan, failing: list[Result], reference: list[Result], run: Rerun) -> list[Advice]:
    ref = {r.case.id: r for r in reference}
    out = []
    for r in failing:
        a = Advice(r, reference=ref.get(replace(r.case, topology=p.reference).id) if p.reference else None)
        a.stopped, a.chains, a.traced = stopped_at(r, p)
        a.intents = intents(p, r)
        own: list[Piece] = [(i.box, i.mend) for i in a.intents if i.mend]
        a.pieces = list(dict.fromkeys(own + candidates(p, a.reference, r.case, r.stops)))
        out.append(a)
    _steady(p, out, run)
    out, unsteady = [a for a in out if not a.unchanged_passed], [a for a in out if a.unchanged_passed]
    search = _Search(p, run)
    search.run([_Try(a, a.result.case, a.pieces) for a in out])
    left = [a for a in out if not a.proven]
    _after_progress(p, left, search)
    left = [a for a in left if not a.proven]
    _settings(p, left, run)
    # A setting alone did not do it: with a reference, run each setting through the reference
    # firewall, and try the rules that run proved on the admin's file together with that setting.
    left = [a for a in left if not a.settings]
    tries = [(a, fx, case) for a in left for fx, case in _setting_fixes(a.result.case, a.result.verdict)]
    if tries:
        refs: dict[str, Result] = {}
        if p.reference:
            refs = {
                x.case.id: x
                for x in run(list({c.id: replace(c, topology=p.reference) for *_, c in tries}.values()), True)
            }
        search.run(
            [
                _Try(
                    a,
                    case,
                    candidates(
                        p,
                        refs.get(replace(case, topology=p.reference).id) if p.reference else None,
                        case,
                        a.result.stops,
                    ),
                    _said(fx),
                )
                for a, fx, case in tries
            ]
        )
    for a in out:
        if a.unchanged_passed:  # it passed unchanged in some round: no pass proves anything
            a.proven, a.settings = [], []
        for x in a.proven:
            x.diffs = {
                b: admin_rules.diff(p.boxes[b].text, e.text, _relpath(p.boxes[b].path)) for b, e in x.edits.items()
            }
        # the change to the admin's own rule first, then the smallest
        a.proven.sort(key=lambda x: (x.setting is not None, not all(isinstance(y, Mend) for _, y in x.pieces), x.size))
    return out + unsteady


def _steady(p: Plan, advice: list[Advice], run: Rerun, rounds: int = 2) -> None:
    """Re-run each failing case through the unchanged files: one that passes now fails only
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
        self.trials: dict[tuple[tuple[str, str], ...], str] = {}  # changed texts -> their trial topology

    def attempt(self, sets: list[tuple[_Try, list[Piece]]]) -> list[tuple[_Try, list[Piece], dict[str, Edit], bool]]:
        """Run each candidate; one that passes runs again, and counts only if it passes twice.
        Each round also re-runs the case through the unchanged files: a round in which that
        passes proves nothing (the case fails only sometimes). A candidate that fails at a
        later stage than the case did is kept as progress (a setting may finish the job)."""
        todo = []
        for t, pieces in sets:
            edits = apply(self.p, pieces, t.advice.chains)
            if edits and any(e.text != self.p.boxes[b].text for b, e in edits.items()):
                todo.append((t, pieces, edits, _trial(self.p, edits, t.case, self.trials)))
        got = self._round(todo)
        ok = [r is not None and r.verdict.outcome == "pass" for r in got]
        for (t, pieces, edits, _), r in zip(todo, got):
            if r is not None and t.setting is None and _later(r, t.advice.result):
                t.advice.progress.append((pieces, edits, r))
            if r is not None and t.setting is None and len(pieces) == 1 and not _passed(r):
                t.advice.failed.setdefault(pieces[0], r)
        again = iter(self._round([x for x, good in zip(todo, ok) if good]))  # a pass must hold twice
        return [(t, pieces, e, good and _passed(next(again))) for (t, pieces, e, _), good in zip(todo, ok)]

    def _round(self, todo: list[tuple[_Try, list[Piece], dict[str, Edit], Case]]) -> list[Result | None]:
        """Each candidate's result; None where the unchanged files passed in the same round."""
        if not todo:
            return []
        baseline = {t.case.id: replace(t.case, topology=self.p.topology) for t, *_ in todo}
        cases = {c.id: c for c in [*(c for *_, c in todo), *baseline.values()]}
        results = {x.case.id: x for x in self.runner(list(cases.values()), False)}
        flaky = {cid for cid, c in baseline.items() if _passed(results.get(c.id))}
        for t, *_ in todo:
            t.advice.tried += 1
        for t in {id(t): t for t, *_ in todo}.values():
            if t.case.id in flaky and t.setting is None:
                t.advice.unchanged_passed += 1
        return [None if t.case.id in flaky else results.get(c.id) for t, _, _, c in todo]

    def run(self, tries: list[_Try], singles_only: bool = False) -> None:
        sets = [(u, u.pieces) for u in tries] if singles_only else [(u, [x]) for u in tries for x in u.pieces]
        for t, pieces, e, ok in self.attempt(sets):
            if ok:
                t.advice.proven.append(Proven(e, pieces, t.setting))
        if singles_only:
            return
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


def short(r: Result) -> str:
    """A re-run's verdict in a line: its stage and the diagnosis's first sentence."""
    first = r.verdict.diagnosis.split(". ")[0].rstrip(".")
    return f"{r.verdict.stage or r.verdict.outcome}: {first[:200]}{'…' if len(first) > 200 else ''}"


def _passed(r: Result | None) -> bool:
    return r is not None and r.verdict.outcome == "pass"


def _later(r: Result, before: Result) -> bool:
    """The re-run failed, but further into the session than the case did."""
    v, w = r.verdict, before.verdict
    return v.outcome == "fail" and bool(v.stage and w.stage) and STAGES.index(v.stage) > STAGES.index(w.stage)


def _after_progress(p: Plan, left: list[Advice], search: _Search) -> None:
    """A change that got a case further, then a setting for where it stopped next: both,
    re-run together (twice), through the changed files."""
    tries = []
    for a in left:
        for pieces, _edits, r in sorted(a.progress, key=lambda x: len(x[0]))[:1]:  # the smallest change
            for fx, case in _setting_fixes(r.case, r.verdict):
                tries.append(_Try(a, replace(case, topology=a.result.case.topology), pieces, _said(fx)))
    search.run(tries, singles_only=True)


def _said(fx: fixes.Fix) -> str:
    return f"{fx.name}: {fx.what} (cost: {fx.cost})"


def _relpath(path: Path) -> str:
    """The file name in the diff: relative to the working directory, or (for a file outside
    it: patch refuses absolute and `..` names) to the file's own folder."""
    rel = os.path.relpath(path)
    return path.name if rel.startswith("..") else rel


def _setting_fixes(case: Case, verdict: Verdict) -> list[tuple[fixes.Fix, Case]]:
    """Registered fixes that change only the server or the client, not the network."""
    return [(fx, c) for fx, c in fixes.candidates(case, verdict) if c.topology == case.topology and c.net == case.net]


def _settings(p: Plan, left: list[Advice], run: Rerun) -> None:
    """Fixes outside the rulesets (server settings, another client), re-run through the
    admin's own rulesets."""
    todo = [(a, fx, case) for a in left for fx, case in _setting_fixes(a.result.case, a.result.verdict)]
    if not todo:
        return
    results = {x.case.id: x for x in run(list({c.id: c for *_, c in todo}.values()), False)}
    for a, fx, case in todo:
        a.tried += 1
        if results[case.id].verdict.outcome == "pass":
            a.settings.append(_said(fx))
