"""Per-phase timing of a run: where the wall time of each case goes.

Phases: setup (tearing down the worker's previous lab when the topology changes, building the
lab, starting the servers; charged to the first case of a unit), session (the client session
and what every party saw), judge (the checks), proof (rule derivation and the replays). The
final teardown of each worker's last lab is not charged to any case.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

PHASES = ("setup", "session", "judge", "proof")


@contextmanager
def phase(into: dict[str, float], name: str) -> Iterator[None]:
    """Add the wall time of the block to `into[name]`."""
    t0 = time.monotonic()
    try:
        yield
    finally:
        into[name] = into.get(name, 0.0) + time.monotonic() - t0


def totals(phase_maps: Iterable[dict[str, float]]) -> dict[str, float]:
    """Sum of each phase over the given cases, in PHASES order."""
    out = dict.fromkeys(PHASES, 0.0)
    for m in phase_maps:
        for k, v in m.items():
            out[k] = out.get(k, 0.0) + v
    return out


def summary(phase_maps: Iterable[dict[str, float]]) -> str:
    """One line: each phase's share of the summed case time ('' when nothing was timed)."""
    t = totals(phase_maps)
    whole = sum(t.values())
    if whole <= 0:
        return ""
    parts = [f"{k} {v:.1f}s ({100 * v / whole:.0f}%)" for k, v in t.items() if v > 0]
    return "time per phase (summed over workers): " + ", ".join(parts)
