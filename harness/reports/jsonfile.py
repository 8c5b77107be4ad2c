"""results.json: {"schema": 1, "backend", "started", "cases": [...]} (schema in README)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..model import Result
from .rules import rules_json

SCHEMA = 1


def document(results: list[Result], backend: str, started: str, extra: dict[str, Any]) -> dict[str, Any]:
    counts = {o: sum(1 for r in results if r.verdict.outcome == o) for o in ("pass", "fail", "skip", "error")}
    return {"schema": SCHEMA, "backend": backend, "started": started, **extra,
            "summary": counts, "cases": [case_json(r) for r in results]}


def case_json(r: Result) -> dict[str, Any]:
    d = r.to_json()
    if r.rules is not None:
        d["rules"] = {box: rules_json(fw) for box, fw in r.rules.items()}
        d["rules_verified"] = all(fw.proof.verified for fw in r.rules.values())
        d["rules_minimal"] = all(fw.proof.minimal for fw in r.rules.values())
    return d


def write(path: Path, results: list[Result], backend: str, started: str,
          extra: dict[str, Any] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document(results, backend, started, extra or {}), indent=1))
    tmp.replace(path)
