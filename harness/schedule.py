"""Which unit a free worker takes next: longest first, so the last unit to finish is a short
one. A unit's expected time is its cases' durations in an earlier results.json (--durations),
else its case count. Units of one topology stay together (a worker reuses its lab across
them); topologies go longest first, and so do the units within one. Deterministic: ties
keep plan order.
"""
from __future__ import annotations

from typing import Callable

from .model import Case

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

    def by_weight(items: list, weight: Callable) -> list:
        return [x for _, _, x in sorted(((-weight(x), i, x) for i, x in enumerate(items)), key=lambda t: t[:2])]

    ordered = by_weight(list(blocks.values()), lambda b: sum(weigh(g) for g in b))
    return [g for block in ordered for g in by_weight(block, weigh)]
