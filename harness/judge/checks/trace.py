"""Diagnoses from packet-level evidence (harness/trace.py): which connection of the session
failed, where it stopped and why, quoting the rule, the chain policy or the NAT event.

The checks decline when the lab had no trace, so the heuristics decide there. `enrich` adds
the trace's words to a verdict that an earlier, more specific check wrote.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from harness.observe.middlebox_view import MiddleboxView
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation
from harness.observe.trace import Attempt, TracePath, attempts

_COUNT = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


@dataclass(frozen=True)
class Lost:
    """A connection attempt of the case that did not get through one middlebox."""
    box: str
    view: MiddleboxView
    attempt: Attempt
    role: str  # control | data
    n: int  # 1-based, among this box's attempts of that role
    ok_before: int  # earlier attempts of that role that got through
    box_n: int | None = None  # where the client counted differently: this box's count, and
    box_ok: int = 0  # how many before it got through (another session's connections crossed it too)

    def which(self) -> str:
        """"the 3rd control connection; the first two succeeded"."""
        return self._which() + (f" (the {ordinal(self.box_n)} {self.role} connection through {self.box}; "
                                f"{self.box_ok} before it, not this client's, got through)"
                                if self.box_n is not None else "")

    def _which(self) -> str:
        if self.n == 1:
            return f"the first {self.role} connection"
        before = self.n - 1
        if self.ok_before == before:
            done = "the first one succeeded" if before == 1 else \
                f"the first {_COUNT.get(before, before)} succeeded"
        else:
            done = f"{self.ok_before} of the {before} before it succeeded"
        return f"the {ordinal(self.n)} {self.role} connection; {done}"

    @property
    def stage(self) -> str:
        """Where the session stopped, from which connection did: the client's own placement
        can only guess which connection a timeout belonged to."""
        return "connect" if self.role == "control" else "data-connect"

    def syn(self) -> str:
        a = self.attempt
        return f"the SYN from {a.src}:{a.sport} to {a.dst}:{a.dport}"


def _role(obs: Observation, a: Attempt) -> str:
    return "control" if a.dport in (21, 990, obs.case.server.control_port) else "data"


def _failure_role(ev: dict[str, Any]) -> str | None:
    f = ev.get("failure") or {}
    if f.get("stage") == "connect" or f.get("step") == "connect":
        return "control"
    if f.get("stage") == "data-connect":
        return "data"
    return None


def _new_tuples(box: str, view: MiddleboxView) -> set[tuple[str, int, str, int]]:
    """The original tuples of the connections conntrack entered (its NEW events)."""
    return {(f.src, f.sport, f.dst, f.dport) for f in view.parsed_flows(box)}


def _lost(obs: Observation, role: str | None, vanished: bool) -> Lost | None:
    """The last attempt of `role` (any role if None) that a traced middlebox dropped (or, with
    `vanished`, that it accepted everywhere but never entered in its conntrack table)."""
    for box, view in obs.middleboxes.items():
        if not view.traced:
            continue
        atts = attempts(view.trace)
        new = _new_tuples(box, view)

        def gone(a: Attempt) -> bool:
            if vanished:
                return a.stopped is None and (a.src, a.sport, a.dst, a.dport) not in new
            return a.stopped is not None

        found = None
        for a in atts:
            r = _role(obs, a)
            if (role is None or r == role) and gone(a):
                same = [x for x in atts if _role(obs, x) == r]
                i = same.index(a)
                ok = sum(1 for x in same[:i] if x.stopped is None and (x.src, x.sport, x.dst, x.dport) in new)
                found = Lost(box, view, a, r, i + 1, ok)
        if found:
            return _as_client_saw(obs, found, atts)
    return None


def _as_client_saw(obs: Observation, lost: Lost, atts: list[Attempt]) -> Lost:
    """Count the session's connections as the client saw them, where it reported them: the
    trace sees only those that crossed this box. The client's count is used when the lost
    attempt is the last one of its role on both sides, so the two describe the same connection."""
    conns = [c for c in (obs.client.connections if obs.client else ()) if c.role == lost.role and c.result]
    last = [a for a in atts if _role(obs, a) == lost.role][-1:] == [lost.attempt]
    if not conns or conns[-1].result == "ok" or not last:
        return lost
    n, ok = len(conns), sum(1 for c in conns[:-1] if c.result == "ok")
    if (n, ok) == (lost.n, lost.ok_before):
        return lost
    return replace(lost, n=n, ok_before=ok, box_n=lost.n, box_ok=lost.ok_before)


def _path_evidence(lost: Lost) -> list[str]:
    seen, out = set(), []
    for p in lost.attempt.paths:
        by = p.by.quote() if p.by else "(no rule of the admin's tables)"
        line = f"{lost.box} {p.hook}: {p.verdict} by {by}"
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out


def _v(outcome: str, stage: str | None, text: str, ev: dict[str, Any]) -> Verdict:
    return Verdict(outcome, stage, text, ev)


def _client_said(ev: dict[str, Any]) -> str:
    f = ev["failure"]
    return f" The client saw: {f['error']}." if f.get("error") else ""


def _stopped_at(lost: Lost) -> TracePath:
    return lost.attempt.stopped  # type: ignore[return-value]


def _where(p: TracePath) -> str:
    by = p.by
    return f"in chain {by.chain} of table {by.family} {by.table}"


def dropped_by_rule(obs: Observation, ev: dict[str, Any]) -> Verdict | None:
    lost = _lost(obs, _failure_role(ev), vanished=False) if ev.get("failure") else None
    if not lost or not _stopped_at(lost).by or _stopped_at(lost).by.handle is None:
        return None
    p = _stopped_at(lost)
    did = "rejected" if "reject" in p.by.text else "dropped"
    ev["trace"] = _path_evidence(lost)
    text = (f"{lost.box} {did} {lost.syn()} {_where(p)} by rule {p.by.quote()}: "
            f"{lost.which()}.{_client_said(ev)}")
    return _v("fail", lost.stage, text, ev)


def dropped_by_policy(obs: Observation, ev: dict[str, Any]) -> Verdict | None:
    lost = _lost(obs, _failure_role(ev), vanished=False) if ev.get("failure") else None
    if not lost or not _stopped_at(lost).by or _stopped_at(lost).by.handle is not None:
        return None
    p = _stopped_at(lost)
    file = p.by.source.rsplit(":", 1)[0] if p.by.source else None
    ev["trace"] = _path_evidence(lost)
    text = (f"{lost.box} dropped {lost.syn()} in chain {p.by.chain} ({p.by.text}) of table "
            f"{p.by.family} {p.by.table}; no rule {f'in {file} ' if file else 'of that chain '}accepts it: "
            f"{lost.which()}.{_client_said(ev)}")
    return _v("fail", lost.stage, text, ev)


_NAT_TO = re.compile(r"\b(?:snat|dnat)\b(?: ip6?)? to (\[?[\w.:]+?\]?):(\d+)(?:\s|$)")


def nat_tuple_clash(obs: Observation, ev: dict[str, Any]) -> Verdict | None:
    """The SYN passed every rule, yet conntrack never entered it and counted an insert
    failure: NAT found no free tuple for it."""
    if not ev.get("failure"):
        return None
    lost = _lost(obs, _failure_role(ev), vanished=True) or _lost(obs, None, vanished=True)
    if not lost:
        return None
    failed = {k: v for k, v in lost.view.stats.items() if k in ("insert_failed", "drop") and v}
    nat = lost.attempt.nat_rule()
    if not failed or nat is None:
        return None
    ev["trace"] = _path_evidence(lost)
    ev["conntrack_stats"] = {lost.box: lost.view.stats}
    m = _NAT_TO.search(nat.text)
    syns = len({p.trace_id for p in lost.attempt.paths})
    stats = ", ".join(f"{k} +{v}" for k, v in failed.items())
    if m:
        target = f"{m.group(1)}:{m.group(2)}"
        holder = _holder(obs, lost, m.group(1), int(m.group(2)))
        why = (f"{nat.source or 'rule'} `{nat.text}` translates every such connection to the one "
               f"tuple {target}, and {holder or 'an earlier connection'} still holds it")
    else:
        why = f"{nat.source or 'rule'} `{nat.text}` found no free tuple for it"
    text = (f"NAT could not allocate a {'source' if 'snat' in nat.text or 'masquerade' in nat.text else 'destination'} "
            f"for {lost.which()}: {why}. {lost.box} accepted {lost.syn()} in every chain, "
            f"then conntrack dropped it ({syns} SYN{'s' if syns != 1 else ''}, no conntrack entry; "
            f"conntrack statistics on {lost.box}: {stats}).{_client_said(ev)}")
    return _v("fail", lost.stage, text, ev)


def _holder(obs: Observation, lost: Lost, addr: str, port: int) -> str | None:
    """The latest earlier connection whose conntrack entry uses addr:port on its reply side."""
    atts = [a for a in attempts(lost.view.trace) if _role(obs, a) == lost.role]
    for line in reversed(lost.view.flows):
        kv = re.findall(r"(src|dst|sport|dport)=(\S+)", line)
        if len(kv) < 8:
            continue
        orig, reply = dict(kv[:4]), dict(kv[4:8])
        if (reply.get("dst"), reply.get("dport")) == (addr, str(port)) or \
                (reply.get("src"), reply.get("sport")) == (addr, str(port)):
            for i, a in enumerate(atts):
                if (a.src, str(a.sport)) == (orig.get("src"), orig.get("sport")) and a != lost.attempt:
                    return (f"the {ordinal(i + 1)} {lost.role} connection "
                            f"({reply['dst']}:{reply['dport']} <-> {reply['src']}:{reply['sport']})")
    return None


OWN = ("nat-tuple-clash", "dropped-by-rule", "dropped-by-policy")


def enrich(obs: Observation, v: Verdict) -> Verdict:
    """A specific check's failure verdict gets the trace's words: where the connection it is
    about stopped, and which one of the session it was."""
    if v.outcome != "fail" or v.check in OWN:
        return v
    ev = v.evidence
    lost = _lost(obs, _failure_role(ev), vanished=False) if ev.get("failure") else None
    if lost:
        p = _stopped_at(lost)
        how = f"by rule {p.by.quote()}" if p.by and p.by.handle is not None else \
            f"({p.by.text})" if p.by else ""
        ev["trace"] = _path_evidence(lost)
        v.diagnosis += (f" Trace: {lost.box} {'rejected' if p.by and 'reject' in p.by.text else 'dropped'} "
                        f"{lost.syn()} {_where(p)} {how} ({lost.which()}).")
    elif obs.middleboxes and not any(x.traced for x in obs.middleboxes.values()):
        ev["trace"] = "not traced (this backend or --no-trace): the diagnosis rests on heuristics"
    return v


def stopped_early(obs: Observation, v: Verdict) -> Verdict:
    """Quote what a conntrack helper said it dropped (harness.helper_log), and say so when the
    harness ended the client's wait on that or a traced drop (harness.early_stop)."""
    if v.outcome != "fail":
        return v
    drops = [d for view in obs.middleboxes.values() for d in view.helper_drops]
    if drops:
        v.evidence["helper_dropped"] = [d.describe() for d in drops[:5]] + \
            ([f"and {len(drops) - 5} more"] if len(drops) > 5 else [])
        if not obs.stopped_early:
            v.diagnosis += f" Evidence: {drops[0].describe()} ({len(drops)} time(s))."
    if obs.stopped_early:
        v.evidence["stopped_early"] = obs.stopped_early
        v.diagnosis += (" The harness did not wait for the client's timeout: it stopped the wait on "
                        f"this evidence: {obs.stopped_early}.")
    return v
