"""Read a results.json back into Results (for merge and compare): the inverse of
reports/jsonfile.py. A case is rebuilt from its id; verdicts and rule proofs from the JSON."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.judge.verdict import Result, Verdict
from harness.judge.rules import FirewallRules, Proof, Rule
from harness.judge.rules.derive import CLIENT_EPHEMERAL
from harness.plan.selection import SelectionError, parse_id, read_results

RULE_FIELDS = set(Rule.__dataclass_fields__)


@dataclass
class ResultsFile:
    path: Path
    doc: dict[str, Any]  # everything but the cases
    results: list[Result]
    order: list[int] = field(default_factory=list)  # each result's index in the planned run


def _rules(topology: str, raw: dict[str, Any]) -> dict[str, FirewallRules]:
    out = {}
    for box, fw in raw.items():
        rules = [Rule(**{k: v for k, v in r.items() if k in RULE_FIELDS}) for r in fw["rules"]]
        proof = Proof(verified=fw["verified"], minimal=fw["minimal"], replays=fw.get("replays", 0),
                      error=fw.get("error"), shared_from=fw.get("shared_from"), not_needed=fw.get("not_needed", []),
                      needed={i: r.get("without_it") or "" for i, r in enumerate(fw["rules"])}
                      if fw["minimal"] else {})
        out[box] = FirewallRules(box, topology, rules, proof, client_ephemeral=CLIENT_EPHEMERAL,
                                 guards_input=any(r.kind == "input" for r in rules))
    return out


def result_of(c: dict[str, Any]) -> Result:
    case = parse_id(c["id"])
    v = Verdict(c["outcome"], c.get("stage"), c.get("diagnosis", ""), c.get("evidence") or {},
                c.get("check", ""))
    rules = _rules(case.topology, c["rules"]) if c.get("rules") is not None else None
    return Result(case, v, c.get("duration_s", 0.0), rules=rules, captures=c.get("captures", []),
                  phases=c.get("phases", {}))


def load(path: Path) -> ResultsFile:
    doc = read_results(path)
    try:
        results = [result_of(c) for c in doc["cases"]]
    except (KeyError, TypeError) as e:
        raise SelectionError(f"{path}: a case lacks {e}; not a results.json of this harness version") from None
    order = [c.get("order", i) for i, c in enumerate(doc["cases"])]
    return ResultsFile(Path(path), {k: v for k, v in doc.items() if k != "cases"}, results, order)
