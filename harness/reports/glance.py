"""Per-topology summaries at a glance, and failures grouped by kind (pure, shared by the
terminal, summary.md and the HTML page)."""
from __future__ import annotations

from dataclasses import dataclass

from ..model import Result
from .terminal import _column


def _axes(r: Result) -> dict[str, str]:
    s, c = r.case.server, r.case.client
    return {"cell": _column(r), "tls": f"tls {s.tls}", "masq": f"masquerade {'on' if s.masquerade else 'off'}",
            "server": s.impl, "client": c.impl}


@dataclass(frozen=True)
class TopologyGlance:
    topology: str
    passed: int
    run: int  # pass + fail + error (skips apart)
    text: str  # "server-nat: 24/30; fails only pasv/trust with masquerade off"


def topology_glance(results: list[Result]) -> list[TopologyGlance]:
    by: dict[str, list[Result]] = {}
    for r in results:
        by.setdefault(r.case.topology, []).append(r)
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
    """What the failing cases share that the passing ones vary: 'fails only pasv/trust with …'."""
    if len(bad) == len(ran):
        return "fails everywhere"
    every = [_axes(r) for r in ran]
    failing = [_axes(r) for r in bad]
    common = [failing[0][k] for k in failing[0]
              if len({a[k] for a in every}) > 1 and len({a[k] for a in failing}) == 1]
    if common:
        return "fails only " + common[0] + (" with " + ", ".join(common[1:]) if common[1:] else "")
    cells = list(dict.fromkeys(a["cell"] for a in failing))
    return "fails in " + ", ".join(cells[:4]) + (f" and {len(cells) - 4} more" if len(cells) > 4 else "")


@dataclass(frozen=True)
class FailureKind:
    check: str
    stage: str | None
    outcome: str
    cases: list[Result]

    @property
    def telling(self) -> list[Result]:
        """Three cases that show it best: the plainest first (fewest options away from the
        defaults), one per topology where possible."""
        plain = sorted(self.cases, key=lambda r: (r.case.id.count("/"), r.case.id))
        picked: list[Result] = []
        for r in plain:
            if r.case.topology not in {p.case.topology for p in picked}:
                picked.append(r)
        picked += [r for r in plain if r not in picked]
        return picked[:3]


def failure_kinds(results: list[Result]) -> list[FailureKind]:
    """One entry per (check, stage) among failing and erroring cases, most cases first."""
    by: dict[tuple, list[Result]] = {}
    for r in results:
        if r.verdict.outcome in ("fail", "error"):
            by.setdefault((r.verdict.check, r.verdict.stage, r.verdict.outcome), []).append(r)
    kinds = [FailureKind(k[0], k[1], k[2], rs) for k, rs in by.items()]
    return sorted(kinds, key=lambda k: -len(k.cases))
