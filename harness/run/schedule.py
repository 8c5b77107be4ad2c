"""Which unit a free worker takes next: longest first, so the last unit to finish is a short
one. A unit's expected time is its cases' durations in an earlier results.json (--durations),
else its case count. Units of one topology stay together (a worker reuses its lab across
them); topologies go longest first, and so do the units within one. Deterministic: ties
keep plan order.
"""

from __future__ import annotations

import threading

from harness.core.case import Case, NetSpec
from harness.plan.units import lab_key


class Pending:
    """The units not yet taken, in schedule order. A worker takes the first unit its current
    lab serves (same topology and network), else the first that no other worker's lab serves,
    else the first one: each lab is built about once instead of once per worker."""

    def __init__(self, groups: list[list[Case]]) -> None:
        self._groups = list(groups)
        self._labs: dict[int, tuple[str, NetSpec] | None] = {}  # worker -> what its lab serves
        self._lock = threading.Lock()

    def take(self, worker: int = 0, lab: tuple[str, NetSpec] | None = None) -> list[Case] | None:
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
