"""What a case came to: the Verdict judged from its Observation, and the Result a run reports,
each with its one JSON round trip (results.json)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.build.topology import Topology
from harness.core import codec
from harness.core.case import Case
from harness.core.outcome import Outcome, Stage
from harness.judge.evidence import Evidence
from harness.judge.rules import FirewallRules
from harness.judge.rules.render import iptables, nft, table
from harness.observe.middlebox_view import MiddleboxView
from harness.observe.trace import TracePath


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    stage: Stage | None
    diagnosis: str
    evidence: Evidence = field(default_factory=Evidence)
    check: str = ""  # name of the check that decided


@dataclass(frozen=True)
class Run:
    """One run of a case, when it ran more than once (--repeat, or a failure confirmed)."""

    outcome: Outcome
    stage: Stage | None
    check: str
    diagnosis: str

    @classmethod
    def of(cls, v: Verdict) -> Run:
        return cls(v.outcome, v.stage, v.check, v.diagnosis)

    def key(self) -> tuple[str, str | None, str]:
        return (self.outcome, self.stage, self.check)

    def said(self) -> str:
        return self.outcome + (f" at {self.stage}" if self.stage else "") + (f" ({self.check})" if self.check else "")


@dataclass
class Result:
    case: Case
    verdict: Verdict
    duration_s: float
    rules: dict[str, FirewallRules] | None = None  # per firewall, for passing cases
    captures: list[str] = field(default_factory=list)  # evidence files, relative to the report dir
    stops: list[TracePath] = field(default_factory=list)  # failing cases: traced paths that ended in a drop
    seen: dict[str, MiddleboxView] = field(default_factory=dict)  # failing cases: what each middlebox saw
    traced: bool = False  # a middlebox of the case was traced (False: --no-trace, or a backend that cannot)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase (harness/core/timing.py)
    topology: Topology | None = None  # as built for the case (None: read back from a results file)
    runs: list[Run] = field(default_factory=list)  # every run, when the case ran more than once

    @property
    def flaky(self) -> bool:
        """Its runs disagree: outcome, stage or check."""
        return len({r.key() for r in self.runs}) > 1

    def flaky_said(self) -> str:
        """ "failed 2 of 5 runs" (the runs that did not pass), for every report."""
        bad = sum(1 for r in self.runs if r.outcome != "pass")
        return f"failed {bad} of {len(self.runs)} runs" if bad else f"{len(self.runs)} runs disagree"

    def to_json(self) -> dict[str, Any]:
        """The case's entry in results.json."""
        v = self.verdict
        d = self.case.describe()
        d.update(
            outcome=v.outcome,
            stage=v.stage,
            diagnosis=v.diagnosis,
            check=v.check,
            # `tampered` (a middlebox rewrote a control line) is derived, but readers of results.json use it
            evidence={**codec.encode(v.evidence, Evidence), "tampered": v.evidence.tampered},
            duration_s=round(self.duration_s, 3),
        )
        if self.captures:
            d["captures"] = self.captures
        if self.runs:
            d["runs"] = [
                {"outcome": r.outcome, "stage": r.stage, "check": r.check, "diagnosis": r.diagnosis} for r in self.runs
            ]
            d["flaky"] = self.flaky
        if self.phases:
            d["phases"] = {k: round(x, 4) for k, x in self.phases.items()}
        if self.rules is not None:
            d["rules"] = {
                box: dict(fw.to_json(), nft=nft(fw), iptables=iptables(fw), table=table(fw))
                for box, fw in self.rules.items()
            }
            d["rules_verified"] = all(fw.proof.verified for fw in self.rules.values())
            d["rules_minimal"] = all(fw.proof.minimal for fw in self.rules.values())
        return d

    @classmethod
    def from_json(cls, case: Case, d: dict[str, Any]) -> Result:
        """The inverse of to_json, for the case `d` names (results of an older format keep
        outcome, stage and check; evidence they cannot give back is left empty)."""
        try:
            evidence = codec.decode({k: x for k, x in (d.get("evidence") or {}).items() if k != "tampered"}, Evidence)
        except (TypeError, ValueError, AttributeError):
            evidence = Evidence()
        v = Verdict(d["outcome"], d.get("stage"), d.get("diagnosis", ""), evidence, d.get("check", ""))
        rules = (
            {box: FirewallRules.from_json(box, case.topology, fw) for box, fw in d["rules"].items()}
            if d.get("rules") is not None
            else None
        )
        return cls(
            case,
            v,
            d.get("duration_s", 0.0),
            rules=rules,
            captures=list(d.get("captures", [])),
            phases=dict(d.get("phases", {})),
            runs=[
                Run(r["outcome"], r.get("stage"), r.get("check", ""), r.get("diagnosis", "")) for r in d.get("runs", [])
            ],
        )
