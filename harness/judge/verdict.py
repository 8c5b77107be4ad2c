"""What a case came to: the Verdict judged from its Observation, and the Result a run reports."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.core.case import Case


@dataclass
class Verdict:
    outcome: str
    stage: str | None
    diagnosis: str
    evidence: dict[str, Any] = field(default_factory=dict)
    check: str = ""  # name of the check that decided


@dataclass
class Result:
    case: Case
    verdict: Verdict
    duration_s: float
    rules: dict[str, Any] | None = None  # firewall -> rules.FirewallRules, for passing cases
    captures: list[str] = field(default_factory=list)  # evidence files, relative to the report dir
    stops: list[Any] = field(default_factory=list)  # failing cases: trace.TracePaths that ended in a drop
    traced: bool = False  # a middlebox of the case was traced (False: --no-trace, or a backend that cannot)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase (harness/timing.py)

    def to_json(self) -> dict[str, Any]:
        d = self.case.describe()
        d.update(
            outcome=self.verdict.outcome,
            stage=self.verdict.stage,
            diagnosis=self.verdict.diagnosis,
            check=self.verdict.check,
            evidence=self.verdict.evidence,
            duration_s=round(self.duration_s, 3),
        )
        if self.captures:
            d["captures"] = self.captures
        if self.phases:
            d["phases"] = {k: round(v, 4) for k, v in self.phases.items()}
        return d
