"""Read a results.json back into Results (for merge and compare): the inverse of
harness/report/jsonfile.py. A case is rebuilt from its id; verdicts and rule proofs from the JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.judge.verdict import Result
from harness.plan.selection import SelectionError, parse_id, read_results


@dataclass
class ResultsFile:
    path: Path
    doc: dict[str, Any]  # everything but the cases
    results: list[Result]
    order: list[int] = field(default_factory=list)  # each result's index in the planned run


def result_of(c: dict[str, Any]) -> Result:
    return Result.from_json(parse_id(c["id"], None), c)


def load(path: Path) -> ResultsFile:
    doc = read_results(path)
    try:
        results = [result_of(c) for c in doc["cases"]]
    except (KeyError, TypeError) as e:
        raise SelectionError(f"{path}: a case lacks {e}; not a results.json of this harness version") from None
    order = [c.get("order", i) for i, c in enumerate(doc["cases"])]
    return ResultsFile(Path(path), {k: v for k, v in doc.items() if k != "cases"}, results, order)
