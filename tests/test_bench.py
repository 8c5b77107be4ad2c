"""make bench's parts: the goals from a bench.json dict, the transfer rates from a recorded
probe report, the matrices it runs, and one real small transfer per path (no timing assertions)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from conftest import REPO

sys.path.insert(0, str(REPO))  # bench/ is not an installed package
from bench import goals, throughput
from bench.bench import PEERS, ROUND1
from harness.core import codec
from harness.observe.observation import ClientReport

FIXTURE = Path(__file__).parent / "fixtures" / "bench" / "server-nat-100MiB.json"

RUN = {
    "matrix": {
        "default": {"cases": 690, "wall_s": 120.0, "amortized_case_s": 0.174},
        "no_trace": {"wall_s": 110.0},
        "no_rules": {"wall_s": 84.0},
    },
    "loopback": {"session_warm_median_s": 0.030},
    "ratio_to_bare": 5.8,
    "trace_cost_pct": goals.share_pct(120.0, 110.0),
    "proof_cost_pct": goals.share_pct(120.0, 84.0),
}


def by_key(res: dict) -> dict[str, goals.Goal]:
    return {g.key: g for g in goals.goals(res)}


def test_overheads_are_shares_of_the_run_that_has_the_feature():
    assert goals.share_pct(120.0, 110.0) == 8.3
    assert goals.share_pct(100.0, 75.0) == 25.0


def test_each_goal_is_met_or_missed_with_its_margin():
    g = by_key(RUN)
    assert (g["default_matrix_s"].met, g["default_matrix_s"].margin) == (False, -90.0)
    assert (g["ratio_to_bare"].met, g["ratio_to_bare"].margin) == (False, -3.8)
    assert (g["trace_cost_pct"].met, g["trace_cost_pct"].margin) == (True, 6.7)
    assert (g["proof_cost_pct"].met, g["proof_cost_pct"].margin) == (False, -5.0)
    assert "690 cases" in g["default_matrix_s"].what
    assert g["peers_s"].measured is None and g["peers_s"].met is None


def test_render_says_met_missed_and_how_to_measure_what_is_missing():
    lines = goals.render(goals.goals(RUN))
    assert len(lines) == 7
    assert "MISSED by 90.0 s (4.0x the goal)" in lines[0]
    assert "MISSED by 3.80x" in lines[1] and "174.0 ms against 30.0 ms" in lines[1]
    assert "met, 6.7 points to spare" in lines[2] and "with --no-trace" in lines[2]
    assert "not measured (python bench/bench.py peers)" in lines[4]
    assert "not measured (python bench/bench.py peers)" in lines[5]  # the slowest CI shard
    assert "not measured (python bench/bench.py test)" in lines[6]


def test_shard_and_make_test_goals_read_their_own_runs():
    res = {
        **RUN,
        "peers": {"wall_s": 700.0, "cases": 6720, "measured_at": "d", "narrowed_by": "", "ci_jobs_s": [150.0, 190.0]},
        "make_test": {"wall_s": 300.0, "passed": 900, "workers": "4", "measured_at": "d"},
    }
    g = by_key(res)
    assert (g["peers_s"].met, g["peers_s"].margin) == (False, -100.0)
    assert (g["peers_shard_s"].measured, g["peers_shard_s"].met) == (190.0, False)
    assert (g["make_test_s"].met, g["make_test_s"].margin) == (True, 60.0)
    assert "900 passed, 0 failed, -n 4" in g["make_test_s"].what


def test_peers_goal_uses_the_recorded_peers_run_and_says_when_it_was_narrowed():
    res = {
        **RUN,
        "peers": {"wall_s": 250.0, "cases": 2400, "measured_at": "2026-11-22T10:00:00+00:00", "narrowed_by": ""},
    }
    g = by_key(res)["peers_s"]
    assert (g.met, g.margin, g.note) == (True, 350.0, "measured 2026-11-22T10:00:00+00:00")
    res["peers"]["narrowed_by"] = "--topology direct"
    assert "narrowed by --topology direct" in by_key(res)["peers_s"].note


def test_goals_of_an_empty_run_are_all_not_measured():
    assert all(g.measured is None for g in goals.goals({}))
    assert json.dumps([g.as_dict() for g in goals.goals(RUN)])  # bench.json can hold them


def test_rates_come_from_the_probe_steps_of_a_recorded_100MiB_session():
    rep = codec.decode(json.loads(FIXTURE.read_text()), ClientReport)
    t = {s.name: s.t for s in rep.steps}
    r = throughput.rates(rep, throughput.SIZE)
    assert r.upload == throughput.SIZE / 1e6 / (t["stor"] - t["pwd"])
    assert r.download == throughput.SIZE / 1e6 / (t["retr"] - t["list"])


def test_summary_takes_medians_and_ratios_to_the_direct_path():
    R = throughput.Rates
    out = throughput.summarise(
        {"direct": [R(100, 200), R(120, 180), R(110, 220)], "server-nat": [R(55, 100)], "server-nat-alg": []}
    )
    assert out["paths"]["direct"] == {
        "upload_MBps": 110,
        "download_MBps": 200,
        "rounds": 3,
        "each": [[100, 200], [120, 180], [110, 220]],
    }
    assert out["ratios"] == {"server-nat/direct": {"upload_MBps": 0.5, "download_MBps": 0.5}}
    assert "server-nat-alg" not in out["paths"]


def _recipe_args(target: str) -> list[str]:
    """The matrix arguments of a Makefile target's recipe, with its variables filled in."""
    text = (REPO / "Makefile").read_text()
    values = dict(re.findall(r"^(\w+)\s*\?=\s*(.*)$", text, re.M))
    body = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, re.M).group(1).replace("\\\n", " ")
    line = next(ln for ln in body.splitlines() if "matrix" in ln)
    line = re.sub(r"\$\((\w+)\)", lambda m: values.get(m.group(1), m.group(0)), line)
    words = line.split()
    words = [w for w in words if not re.fullmatch(r"\$\(\w+_ARG\)", w)]  # JOBS_ARG, SHARD_ARG: how, not what
    words = words[words.index("matrix") + 1 :]
    out, skip = [], False
    for w in words:  # drop what the bench sets itself
        if skip:
            skip = False
        elif w in ("--jobs", "--report-dir"):
            skip = True
        else:
            out.append(w)
    return out


def test_peers_mode_runs_the_makefiles_two_matrices():
    assert [list(a) for _, a in PEERS] == [_recipe_args("test-matrix-peers"), _recipe_args("test-matrix-peers-tls")]


def test_round1_selection_plans_round_1s_450_cases():
    import subprocess

    r = subprocess.run(
        [sys.executable, "-m", "harness", "matrix", "--list", *ROUND1],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.split()) == 450


@pytest.mark.netns
def test_throughput_runs_a_real_session_on_every_path():
    out = throughput.measure(rounds=1, size=1 << 20)
    assert out["errors"] == {}
    assert set(out["paths"]) == set(throughput.PATHS)
    assert set(out["ratios"]) == {"server-nat/direct", "server-nat-alg/direct"}
