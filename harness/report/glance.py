"""Per-topology summaries at a glance, and failures grouped by kind (pure, shared by the
terminal, summary.md and the HTML page)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.core.outcome import Outcome, Stage
from harness.judge import fixes
from harness.judge.verdict import Result
from harness.report import grid

WORDS = {"masq": "masquerade"}
AXES = ("", *(WORDS.get(h, h) for h, _ in grid.AXES if h != "topology"))  # "" = the column


def _axes(r: Result) -> tuple[str, ...]:
    return (grid.column(r), *(get(r.case) for h, get in grid.AXES if h != "topology"))


@dataclass(frozen=True)
class TopologyGlance:
    topology: str
    passed: int
    run: int  # pass + fail + error (skips apart)
    text: str  # "server-nat: 24/30; fails only pasv/trust with masquerade off"


def topology_glance(results: list[Result]) -> list[TopologyGlance]:
    by: dict[str, list[Result]] = {}
    for r in results:
        by.setdefault(r.case.lab, []).append(r)  # "server-nat ipv6" apart from server-nat
    out = []
    for topo, rs in by.items():
        ran = [r for r in rs if r.verdict.outcome != "skip"]
        bad = [r for r in ran if r.verdict.outcome in ("fail", "error")]
        passed = len(ran) - len(bad)
        text = f"{topo}: {passed}/{len(ran)}"
        if not ran:
            text += "; nothing ran"
        elif not bad:
            text += "; all pass"
        else:
            text += "; " + _where(ran, bad)
        skipped = len(rs) - len(ran)
        out.append(TopologyGlance(topo, passed, len(ran), text + (f" ({skipped} skipped)" if skipped else "")))
    return out


def _where(ran: list[Result], bad: list[Result]) -> str:
    """Where the failures are, when a few axis values say it exactly ('fails only pasv/trust
    with masquerade off'); else how many fail by which check."""
    if len(bad) == len(ran):
        return "fails everywhere"
    every, failing = [_axes(r) for r in ran], [_axes(r) for r in bad]
    values = [list(dict.fromkeys(a[i] for a in failing)) for i in range(len(AXES))]
    covered = [a for a in every if all(a[i] in values[i] for i in range(len(AXES)))]
    if len(covered) == len(failing):  # the failing cases are exactly a product of axis values
        parts = [
            f"{name} {'/'.join(values[i])}" if name else ", ".join(values[i])
            for i, name in enumerate(AXES)
            if len(values[i]) < len({a[i] for a in every})
        ]
        return "fails only " + parts[0] + (" with " + " and ".join(parts[1:]) if parts[1:] else "")
    checks: dict[str, int] = {}
    for r in bad:
        checks[r.verdict.check or r.verdict.outcome] = checks.get(r.verdict.check or r.verdict.outcome, 0) + 1
    top = sorted(checks.items(), key=lambda kv: -kv[1])
    return (
        f"{len(bad)} fail: "
        + ", ".join(f"{k} {n}" for k, n in top[:3])
        + (f" and {len(top) - 3} other kinds" if len(top) > 3 else "")
    )


@dataclass(frozen=True)
class FailureKind:
    check: str
    stage: Stage | None
    outcome: Outcome
    cases: list[Result]

    @property
    def telling(self) -> list[Result]:
        """Three cases that show it best: the plainest first (fewest options away from the
        defaults), one per topology where possible."""
        plain = sorted(self.cases, key=lambda r: (r.case.id.count("/"), r.case.id))
        picked: list[Result] = []
        for r in plain:
            if r.case.lab not in {p.case.lab for p in picked}:
                picked.append(r)
        picked += [r for r in plain if r not in picked]
        return picked[:3]


def failure_kinds(results: list[Result]) -> list[FailureKind]:
    """One entry per (check, stage) among failing and erroring cases, most cases first."""
    by: dict[tuple[str, Stage | None, Outcome], list[Result]] = {}
    for r in results:
        if r.verdict.outcome in ("fail", "error"):
            by.setdefault((r.verdict.check, r.verdict.stage, r.verdict.outcome), []).append(r)
    kinds = [FailureKind(k[0], k[1], k[2], rs) for k, rs in by.items()]
    return sorted(kinds, key=lambda k: -len(k.cases))


@dataclass(frozen=True)
class Variant:
    """A passing case of the same run that differs from a failing one by one known fix."""

    fix: str
    what: str
    cost: str
    case_id: str


def passing_variants(results: list[Result]) -> dict[str, list[Variant]]:
    """Failing case id -> the variants that passed in this run, one per applicable fix (the
    fix registry says how a case changes; this run's own results say whether that passed)."""
    passed = {r.case.id for r in results if r.verdict.outcome == "pass"}
    out: dict[str, list[Variant]] = {}
    for r in results:
        if r.verdict.outcome != "fail":
            continue
        for f in fixes.all_fixes():
            if f.applies(r.case, r.verdict):
                fixed = f.change(r.case).id
                if fixed in passed and fixed != r.case.id:
                    out.setdefault(r.case.id, []).append(Variant(f.name, f.what, f.cost, fixed))
    return out
