"""--shard I/N: the I-th of N parts of a run, for CI machines that run the parts in parallel.

Parts are whole units (one topology and server spec: one lab, one server start), balanced by
expected time (a previous results.json's case durations) or else by case count. Deterministic:
the same cases and N always give the same parts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.core.case import Case
from harness.plan.selection import read_results
from harness.plan.units import units, weigher


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        i, sep, n = text.partition("/")
        if not sep or not i.isdigit() or not n.isdigit() or not 1 <= int(i) <= int(n) <= 1000:
            raise ValueError(f"{text!r} must be I/N with 1 <= I <= N, e.g. 2/4")
        return cls(int(i), int(n))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def durations(path: Path) -> dict[str, float]:
    """Case id -> seconds, from a previous results.json."""
    doc = read_results(path)
    return {c["id"]: float(c["duration_s"]) for c in doc["cases"] if isinstance(c.get("duration_s"), (int, float))}


def split(cases: list[Case], count: int, seconds: dict[str, float] | None = None) -> list[list[Case]]:
    """`count` parts of `cases`, each in plan order. Longest-first greedy over units."""
    groups = units(cases)
    weight = weigher(seconds)
    position = {c.id: i for i, c in enumerate(cases)}
    load = [0.0] * count
    parts: list[list[list[Case]]] = [[] for _ in range(count)]
    for g in sorted(groups, key=lambda g: (-weight(g), position[g[0].id])):
        i = min(range(count), key=lambda k: (load[k], k))
        load[i] += weight(g)
        parts[i].append(g)
    return [sorted((c for g in p for c in g), key=lambda c: position[c.id]) for p in parts]


def pick(cases: list[Case], shard: Shard, durations_file: Path | None = None) -> list[Case]:
    seconds = durations(durations_file) if durations_file else None
    return split(cases, shard.count, seconds)[shard.index - 1]
