"""--fail-on: which results make a run exit 1. Each gate includes the stricter ones."""

from __future__ import annotations

from collections.abc import Callable

from harness.judge.verdict import Result

Gate = Callable[[Result], bool]


def _error(r: Result) -> bool:
    return r.verdict.outcome == "error"


def _fail(r: Result) -> bool:
    """A failure every run agreed on (a flaky case is its own gate)."""
    return r.verdict.outcome in ("fail", "error") and not r.flaky


def _flaky(r: Result) -> bool:
    return _fail(r) or r.flaky


def _weakened(r: Result) -> bool:
    return _flaky(r) or bool(r.verdict.evidence.security_weakened)


def _finding(r: Result) -> bool:
    ev = r.verdict.evidence
    return _weakened(r) or ev.tampered or bool(ev.fell_back_to_passive)


GATES: dict[str, tuple[Gate, str]] = {
    "error": (_error, "a harness error"),
    "fail": (_fail, "a failing case, or an error"),
    "flaky": (
        _flaky,
        "a case whose runs disagree (--repeat, or a failure confirmed by a second run), a fail, or an error",
    ),
    "weakened": (_weakened, "a case that passed only with security weakened, a fail, or an error"),
    "finding": (
        _finding,
        "any finding: pass* (a middlebox rewrote control lines), pass→pasv, weakened security, a fail, or an error",
    ),
}


def tripped(results: list[Result], fail_on: str) -> list[Result]:
    gate = GATES[fail_on][0]
    return [r for r in results if gate(r)]
