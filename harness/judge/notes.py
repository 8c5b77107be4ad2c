"""Notes a verdict gets after its check decided: where the trace saw the connection stop (for
verdicts of the more specific checks), what a conntrack helper said it dropped, and that the
harness ended the client's wait on that evidence (harness/run/early_stop.py)."""

from __future__ import annotations

from dataclasses import replace

from harness.judge.lost import failure_role, lost_attempt, path_evidence, stopped_at, where
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation

OWN = ("nat-tuple-clash", "dropped-by-rule", "dropped-by-policy")


def enrich(obs: Observation, v: Verdict) -> Verdict:
    """A specific check's failure verdict gets the trace's words: where the connection it is
    about stopped, and which one of the session it was."""
    if v.outcome != "fail" or v.check in OWN:
        return v
    ev = v.evidence
    lost = lost_attempt(obs, failure_role(ev), vanished=False) if ev.failure else None
    if lost:
        p = stopped_at(lost)
        how = f"by rule {p.by.quote()}" if p.by and p.by.handle is not None else f"({p.by.text})" if p.by else ""
        return replace(
            v,
            evidence=replace(ev, trace=path_evidence(lost)),
            diagnosis=v.diagnosis
            + (
                f" Trace: {lost.box} {'rejected' if p.by and 'reject' in p.by.text else 'dropped'} "
                f"{lost.syn()} {where(p)} {how} ({lost.which()})."
            ),
        )
    if obs.middleboxes and not any(x.traced for x in obs.middleboxes.values()):
        return replace(v, evidence=replace(ev, untraced=True))
    return v


def stopped_early(obs: Observation, v: Verdict) -> Verdict:
    """Quote what a conntrack helper said it dropped (harness/observe/helper_log.py), and say so when the
    harness ended the client's wait on that or a traced drop (harness/run/early_stop.py)."""
    if v.outcome != "fail":
        return v
    drops = [d for view in obs.middleboxes.values() for d in view.helper_drops]
    if drops:
        said = tuple(d.describe() for d in drops[:5]) + ((f"and {len(drops) - 5} more",) if len(drops) > 5 else ())
        v = replace(v, evidence=replace(v.evidence, helper_dropped=said))
        if not obs.stopped_early:
            v = replace(v, diagnosis=v.diagnosis + f" Evidence: {drops[0].describe()} ({len(drops)} time(s)).")
    if obs.stopped_early:
        v = replace(
            v,
            evidence=replace(v.evidence, stopped_early=obs.stopped_early),
            diagnosis=(
                v.diagnosis + " The harness did not wait for the client's timeout: it stopped the wait on "
                f"this evidence: {obs.stopped_early}."
            ),
        )
    return v
