"""Known fixes, one registry entry each: which failing cases it applies to, how it changes
the case, and what it costs. `reproduce` re-runs each applicable fix for real; verify tries
those outside the ruleset; reports show the variants of a failing case that passed. Each
module in this package registers fixes with `@fix(...)`: a new fix is one new file. Server
settings and client abilities are quoted from their adapters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from harness.core.case import Case
from harness.core.registry import Registry
from harness.judge.verdict import Verdict

Applies = Callable[[Case, Verdict], bool]
Change = Callable[[Case], Case]


@dataclass(frozen=True)
class Fix:
    name: str
    order: int  # the order fixes are tried and listed in
    what: str  # the change, in an operator's words
    cost: str  # what it costs or weakens, even when it works
    applies: Applies
    change: Change


REGISTRY: Registry[Fix] = Registry("fix", __name__)


def fix(name: str, order: int, what: str, cost: str, applies: Applies) -> Callable[[Change], Change]:
    """Register the decorated change as the fix `name`."""

    def add(change: Change) -> Change:
        REGISTRY.add(name, Fix(name, order, what, cost, applies, change))
        return change

    return add


def listing(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def server(case: Case, **kw: Any) -> Case:
    return replace(case, server=replace(case.server, **kw))


def client(case: Case, **kw: Any) -> Case:
    return replace(case, client=replace(case.client, **kw))


def topology(case: Case, name: str) -> Case:
    return replace(case, topology=name)


def all_fixes() -> list[Fix]:
    """Every fix, in order."""
    return list(REGISTRY)


def candidates(case: Case, verdict: Verdict) -> list[tuple[Fix, Case]]:
    """Every registered fix that applies to this failing case, with the changed case."""
    return [(f, f.change(case)) for f in REGISTRY if f.applies(case, verdict)]
