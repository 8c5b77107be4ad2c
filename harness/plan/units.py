"""Units: cases that share a topology and a server spec run in one lab with one server start.
Which unit is heavier (longest first, balanced shards) is decided here too (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from harness.core.case import Case, NetSpec, ServerSpec

T = TypeVar("T")


def units(cases: Iterable[Case]) -> list[list[Case]]:
    """Group cases by (topology, server spec), keeping topologies together."""
    groups: dict[tuple[str, ServerSpec, NetSpec], list[Case]] = {}
    for c in cases:
        groups.setdefault((c.topology, c.server, c.net), []).append(c)
    return list(groups.values())


def lab_key(unit: list[Case]) -> tuple[str, NetSpec]:
    """What decides a unit's lab (the server spec does not)."""
    return unit[0].topology, unit[0].net


Weigh = Callable[[list[Case]], float]


def weigher(seconds: dict[str, float] | None = None) -> Weigh:
    """A unit's expected time: its recorded case durations (unknown cases count as the mean
    of the known ones), or its case count without durations."""
    if not seconds:
        return lambda unit: float(len(unit))
    known = [s for s in seconds.values() if s > 0]
    default = sum(known) / len(known) if known else 1.0
    return lambda unit: sum(seconds.get(c.id, default) for c in unit)


def longest_first(groups: list[list[Case]], seconds: dict[str, float] | None = None) -> list[list[Case]]:
    weigh = weigher(seconds)
    blocks: dict[str, list[list[Case]]] = {}
    for g in groups:  # groups come in plan order
        blocks.setdefault(g[0].topology, []).append(g)

    def by_weight(items: list[T], weight: Callable[[T], float]) -> list[T]:
        return [x for _, _, x in sorted(((-weight(x), i, x) for i, x in enumerate(items)), key=lambda t: t[:2])]

    ordered = by_weight(list(blocks.values()), lambda b: sum(weigh(g) for g in b))
    return [g for block in ordered for g in by_weight(block, weigh)]
