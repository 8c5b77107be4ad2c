"""Which connection of a session a traced middlebox stopped, counted as the client saw them
(harness/observe/trace.py parses the trace): shared by the trace checks and the notes a
verdict gets from the trace."""

from __future__ import annotations

from dataclasses import dataclass, replace

from harness.core.outcome import Stage
from harness.core.tls import CONTROL_PORTS
from harness.judge.evidence import Evidence
from harness.observe.middlebox_view import MiddleboxView
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
        """ "the 3rd control connection; the first two succeeded"."""
        return self._which() + (
            f" (the {ordinal(self.box_n)} {self.role} connection through {self.box}; "
            f"{self.box_ok} before it, not this client's, got through)"
            if self.box_n is not None
            else ""
        )

    def _which(self) -> str:
        if self.n == 1:
            return f"the first {self.role} connection"
        before = self.n - 1
        if self.ok_before == before:
            done = "the first one succeeded" if before == 1 else f"the first {_COUNT.get(before, before)} succeeded"
        else:
            done = f"{self.ok_before} of the {before} before it succeeded"
        return f"the {ordinal(self.n)} {self.role} connection; {done}"

    @property
    def stage(self) -> Stage:
        """Where the session stopped, from which connection did: the client's own placement
        can only guess which connection a timeout belonged to."""
        return "connect" if self.role == "control" else "data-connect"

    def syn(self) -> str:
        a = self.attempt
        return f"the SYN from {a.src}:{a.sport} to {a.dst}:{a.dport}"


def role_of(obs: Observation, a: Attempt) -> str:
    return "control" if a.dport in (*CONTROL_PORTS, obs.case.server.control_port) else "data"


def failure_role(ev: Evidence) -> str | None:
    f = ev.failure
    if f is None:
        return None
    if f.stage == "connect" or f.step == "connect":
        return "control"
    if f.stage == "data-connect":
        return "data"
    return None


def _new_tuples(box: str, view: MiddleboxView) -> set[tuple[str, int, str, int]]:
    """The original tuples of the connections conntrack entered (its NEW events)."""
    return {(f.src, f.sport, f.dst, f.dport) for f in view.parsed_flows(box)}


def lost_attempt(obs: Observation, role: str | None, vanished: bool) -> Lost | None:
    """The last attempt of `role` (any role if None) that a traced middlebox dropped (or, with
    `vanished`, that it accepted everywhere but never entered in its conntrack table)."""
    for box, view in obs.middleboxes.items():
        if not view.traced:
            continue
        atts = attempts(view.trace)
        new = _new_tuples(box, view)

        def gone(a: Attempt, new: set[tuple[str, int, str, int]] = new) -> bool:
            if vanished:
                return a.stopped is None and (a.src, a.sport, a.dst, a.dport) not in new
            return a.stopped is not None

        found = None
        for a in atts:
            r = role_of(obs, a)
            if (role is None or r == role) and gone(a):
                same = [x for x in atts if role_of(obs, x) == r]
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
    last = [a for a in atts if role_of(obs, a) == lost.role][-1:] == [lost.attempt]
    if not conns or conns[-1].result == "ok" or not last:
        return lost
    n, ok = len(conns), sum(1 for c in conns[:-1] if c.result == "ok")
    if (n, ok) == (lost.n, lost.ok_before):
        return lost
    return replace(lost, n=n, ok_before=ok, box_n=lost.n, box_ok=lost.ok_before)


def path_evidence(lost: Lost) -> tuple[str, ...]:
    seen, out = set(), []
    for p in lost.attempt.paths:
        by = p.by.quote() if p.by else "(no rule of the admin's tables)"
        line = f"{lost.box} {p.hook}: {p.verdict} by {by}"
        if line not in seen:
            seen.add(line)
            out.append(line)
    return tuple(out)


def client_said(ev: Evidence) -> str:
    f = ev.failure
    return f" The client saw: {f.error}." if f and f.error else ""


def stopped_at(lost: Lost) -> TracePath:
    assert lost.attempt.stopped is not None
    return lost.attempt.stopped


def where(p: TracePath) -> str:
    by = p.by
    assert by is not None
    return f"in chain {by.chain} of table {by.family} {by.table}"
