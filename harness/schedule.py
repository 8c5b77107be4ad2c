"""Which unit a free worker takes next: longest first, so the last unit to finish is a short
one. A unit's expected time is its cases' durations in an earlier results.json (--durations),
else its case count. Units of one topology stay together (a worker reuses its lab across
them); topologies go longest first, and so do the units within one. Deterministic: ties
keep plan order.
"""
from __future__ import annotations

import threading
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


class Pending:
    """The units not yet taken, in schedule order. A worker takes the first unit its current
    lab serves (same topology and network), else the first that no other worker's lab serves,
    else the first one: each lab is built about once instead of once per worker."""

    def __init__(self, groups: list[list[Case]]) -> None:
        self._groups = list(groups)
        self._labs: dict[int, tuple | None] = {}  # worker -> what its lab serves
        self._lock = threading.Lock()

    def take(self, worker: int = 0, lab: tuple | None = None) -> list[Case] | None:
        """The next unit for `worker`, whose lab serves `lab` (None: it has no lab)."""
        with self._lock:
            others = {k for w, k in self._labs.items() if w != worker}
            keys = [lab_key(g) for g in self._groups]
            i = next((i for i, k in enumerate(keys) if k == lab), None)
            if i is None:
                i = next((i for i, k in enumerate(keys) if k not in others), 0 if keys else None)
            if i is None:
                self._labs.pop(worker, None)
                return None
            self._labs[worker] = keys[i]
            return self._groups.pop(i)


def lab_key(unit: list[Case]) -> tuple:
    """What decides a unit's lab (the server spec does not)."""
    return unit[0].topology, unit[0].net
