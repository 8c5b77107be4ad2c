"""The performance goals, judged on one bench run's figures (the reports/bench.json dict)."""

from __future__ import annotations

from dataclasses import dataclass

PEERS_GOAL_S = 600  # the whole peers matrix on one machine
SHARDS, SHARD_GOAL_S = 4, 180  # the CI split, and each CI job's goal
TEST_GOAL_S = 360  # make test


@dataclass(frozen=True)
class Goal:
    key: str
    what: str
    limit: float
    unit: str  # "s", "x" or "%"
    measured: float | None  # None: not measured (the note says how to)
    note: str = ""

    @property
    def met(self) -> bool | None:
        return None if self.measured is None else self.measured <= self.limit

    @property
    def margin(self) -> float | None:
        """Limit minus measured: what is to spare (>= 0) or how much it is missed by (< 0)."""
        return None if self.measured is None else round(self.limit - self.measured, 2)

    def as_dict(self) -> dict:
        return {
            "goal": self.key,
            "what": self.what,
            "limit": self.limit,
            "unit": self.unit,
            "measured": self.measured,
            "met": self.met,
            "margin": self.margin,
            "note": self.note,
        }


def share_pct(with_s: float, without_s: float) -> float:
    """What a feature costs, as a share of the run that has it."""
    return round(100 * (with_s - without_s) / with_s, 1)


def goals(res: dict) -> list[Goal]:
    """Every performance goal against the figures in `res` (missing figures: not measured)."""
    m = res.get("matrix", {})
    d = m.get("default")
    out = [
        Goal(
            "default_matrix_s",
            f"default matrix ({d['cases']} cases) at --jobs {d.get('jobs', '?')}, rules proven, tracing on"
            if d
            else "default matrix, rules proven, tracing on",
            30,
            "s",
            d and d["wall_s"],
        ),
        Goal(
            "ratio_to_bare",
            "amortized case / bare in-process session",
            2,
            "x",
            res.get("ratio_to_bare"),
            _note(d, "amortized_case_s", res.get("loopback", {}), "session_warm_median_s", 1000, "ms"),
        ),
        Goal(
            "trace_cost_pct",
            "tracing, share of the traced run (without early stop)",
            15,
            "%",
            res.get("trace_cost_pct"),
            _note(m.get("no_early_stop") or d, "wall_s", m.get("no_trace"), "wall_s", 1, "s", " with --no-trace"),
        ),
        Goal(
            "proof_cost_pct",
            "rule proofs, share of the default run",
            25,
            "%",
            res.get("proof_cost_pct"),
            _note(d, "wall_s", m.get("no_rules"), "wall_s", 1, "s", " with --no-rules"),
        ),
    ]
    p = res.get("peers")
    note = (
        "python bench/bench.py peers"
        if not p
        else f"measured {p.get('measured_at', '?')}"
        + (f", narrowed by {p['narrowed_by']}" if p.get("narrowed_by") else "")
    )
    out.append(
        Goal(
            "peers_s",
            f"make test-matrix-peers ({p['cases']} cases), one machine" if p else "make test-matrix-peers",
            PEERS_GOAL_S,
            "s",
            p and p["wall_s"],
            note,
        )
    )
    jobs = p.get("ci_jobs_s") if p else None
    out.append(
        Goal(
            "peers_shard_s",
            f"the slowest of its {SHARDS} CI jobs (a shard of each matrix)",
            SHARD_GOAL_S,
            "s",
            jobs and max(jobs),
            note,
        )
    )
    t = res.get("make_test")
    out.append(
        Goal(
            "make_test_s",
            f"make test ({t['passed']} passed, {t.get('failed', 0)} failed, -n {t['workers']})" if t else "make test",
            TEST_GOAL_S,
            "s",
            t and t["wall_s"],
            f"measured {t['measured_at']}" if t else "python bench/bench.py test",
        )
    )
    return out


def _note(a: dict | None, ka: str, b: dict | None, kb: str, scale: float, unit: str, what: str = "") -> str:
    """'x ms against y ms' from two figures of the run, '' when either is missing."""
    if not a or not b or ka not in a or kb not in b:
        return ""
    return f"{a[ka] * scale:.1f} {unit} against {b[kb] * scale:.1f} {unit}{what}"


def _fmt(v: float, unit: str) -> str:
    return f"{v:.1f} s" if unit == "s" else f"{v:.2f}x" if unit == "x" else f"{v:.1f} %"


def render(gs: list[Goal]) -> list[str]:
    """One line per goal: the goal, the figure, met or missed and by how much."""
    lines = []
    for g in gs:
        head = f"  {g.what:<64} <= {_fmt(g.limit, g.unit):>7}"
        if g.measured is None:
            lines.append(f"{head}  not measured" + (f" ({g.note})" if g.note else ""))
            continue
        gap = _fmt(abs(g.margin), g.unit).replace(" %", " points")
        verdict = f"met, {gap} to spare" if g.met else f"MISSED by {gap}"
        if not g.met and g.unit == "s":
            verdict += f" ({g.measured / g.limit:.1f}x the goal)"
        lines.append(f"{head}  {_fmt(g.measured, g.unit):>9}  {verdict}" + (f" [{g.note}]" if g.note else ""))
    return lines
