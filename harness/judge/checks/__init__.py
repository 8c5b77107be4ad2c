"""Observation -> Verdict, by small named checks.

The evidence is gathered once from the observation (harness/judge/evidence.py). Then each
check looks at it in turn, in the order of their priorities; the first that recognises the
situation writes the diagnosis from that evidence. Each module in this package registers its
checks with `@check(name, priority)`: a new check is one new file. `table()` lists them
in order. Every check can be tested alone on a recorded Observation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from harness.core.registry import Registry
from harness.judge import notes
from harness.judge.evidence import Evidence, gather
from harness.judge.findings import case_findings
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation

CheckFn = Callable[[Observation, Evidence], Verdict | None]
LAST = 10_000  # the priority of the check that always decides


@dataclass(frozen=True)
class Check:
    name: str
    priority: int  # lower first
    fn: CheckFn
    summary: str  # the first line of its docstring

    @property
    def order(self) -> int:
        return self.priority


REGISTRY: Registry[Check] = Registry("check", __name__)


def check(name: str, priority: int) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated function as the check `name`, tried in `priority` order."""

    def register(fn: CheckFn) -> CheckFn:
        summary = (fn.__doc__ or "").strip().split("\n")[0]
        REGISTRY.add(name, Check(name, priority, fn, summary))
        return fn

    return register


def table() -> list[Check]:
    """The checks in the order they are tried."""
    return list(REGISTRY)


def names() -> list[str]:
    """Every check name a verdict can carry, in the table's order."""
    return REGISTRY.names()


def judge(obs: Observation) -> Verdict:
    ev = gather(obs) if obs.client is not None else Evidence()
    for c in table():
        v = c.fn(obs, ev)
        if v is not None:
            v = replace(v, check=c.name, evidence=replace(v.evidence, findings=case_findings(obs.client)))
            return notes.stopped_early(obs, notes.enrich(obs, v))
    raise AssertionError("other-failure always decides")
