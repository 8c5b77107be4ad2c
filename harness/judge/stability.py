"""Which failures stand on hard evidence, and the verdict of a case that ran more than once
(pure).

A failure is backed when something other than the client's own wait says what happened: the
trace saw the drop, a reject counter counted it, a reply line of the server's ended it, the
balancer's log placed it, or the connection was refused or had no route. Anything else (a
timeout nothing explains, a reset, a TLS error) is confirmed by another run before it is
reported; runs that disagree make the case flaky (Result.flaky), reported with its counts.
"""

from __future__ import annotations

from dataclasses import replace

from harness.judge.verdict import Result, Run, Verdict


def backed(v: Verdict) -> bool:
    """A failure that hard evidence shows (or not a failure at all)."""
    if v.outcome != "fail":
        return True
    ev = v.evidence
    if ev.trace or ev.stopped_early or ev.firewall_rejected or ev.firewall_dropped_invalid:
        return True
    if ev.balancer and ev.balancer.misplaced():  # a traced or logged choice of another backend
        return True
    if ev.helper_dropped or ev.trace_dropped_icmp or ev.firewall_dropped_icmp or ev.untranslated:
        return True
    f = ev.failure
    if f is not None and (f.said[:1] in ("4", "5") or f.kind in ("refused", "unreachable")):
        return True
    return any(line[2:3] in ("4", "5") for line in ev.transcript[-3:] if line.startswith("< "))


def merged(runs: list[Result]) -> Result:
    """One Result for several runs of one case: the first failing run's verdict and evidence
    (else the first run's), every run's outcome kept; durations added."""
    if len(runs) == 1:
        return runs[0]
    primary = next((r for r in runs if r.verdict.outcome != "pass"), runs[0])
    return replace(
        primary,
        duration_s=sum(r.duration_s for r in runs),
        runs=[Run.of(r.verdict) for r in runs],
        phases={k: sum(r.phases.get(k, 0.0) for r in runs) for r in runs for k in r.phases},
    )
