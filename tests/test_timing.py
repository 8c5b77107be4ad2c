"""Per-phase timing: pure arithmetic over recorded phase maps (no timing assertions)."""

from harness.core import timing


def test_totals_and_summary_name_each_phase_and_its_share():
    maps = [{"setup": 1.0, "session": 2.0}, {"session": 1.0, "judge": 0.5, "proof": 0.5}]
    assert timing.totals(maps) == {"setup": 1.0, "session": 3.0, "judge": 0.5, "proof": 0.5}
    line = timing.summary(maps)
    assert "session 3.0s (60%)" in line and "setup 1.0s (20%)" in line


def test_summary_is_empty_without_timings():
    assert timing.summary([{}, {}]) == ""


def test_phase_accumulates_into_the_map():
    m: dict[str, float] = {}
    with timing.phase(m, "judge"):
        pass
    with timing.phase(m, "judge"):
        pass
    assert set(m) == {"judge"} and m["judge"] >= 0
