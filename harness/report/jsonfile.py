"""results.json: {"schema": 1, "backend", "started", "cases": [...]} (schema: schemas/results.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.judge.verdict import Result

SCHEMA = 1


def document(
    results: list[Result], backend: str, started: str, extra: dict[str, Any], order: list[int] | None = None
) -> dict[str, Any]:
    """`order`: each result's index in the planned run (a shard's cases are a subset)."""
    counts = {o: sum(1 for r in results if r.verdict.outcome == o) for o in ("pass", "fail", "skip", "error")}
    order = order or list(range(len(results)))
    return {
        "schema": SCHEMA,
        "backend": backend,
        "started": started,
        **extra,
        "summary": counts,
        "cases": [dict(case_json(r), order=i) for r, i in zip(results, order)],
    }


def case_json(r: Result) -> dict[str, Any]:
    return r.to_json()


def write(
    path: Path,
    results: list[Result],
    backend: str,
    started: str,
    extra: dict[str, Any] | None = None,
    order: list[int] | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document(results, backend, started, extra or {}, order), indent=1))
    tmp.replace(path)
