"""`merge PARTS…`: the results of --shard parts as one run, in the planned order, refusing
parts that do not belong together or leave cases out."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from harness.judge.verdict import Result
from harness.plan.selection import SelectionError
from harness.report.results import ResultsFile, load

SAME = ("schema", "backend", "axes", "options")


def _file(part: Path) -> Path:
    return part / "results.json" if part.is_dir() else part


def _unsharded(command: str, report_dir: Path | None = None) -> str:
    """The command line one machine would have run: no --shard/--durations, and the merged
    reports' folder as its --report-dir."""
    words, out, skip = shlex.split(command), [], False
    for w in words:
        if skip:
            skip = False
        elif w in ("--shard", "--durations", "--report-dir"):
            skip = True
        elif not w.startswith(("--shard=", "--durations=", "--report-dir=")):
            out.append(w)
    return shlex.join(out + (["--report-dir", str(report_dir)] if report_dir else []))


def _shard_index(f: ResultsFile) -> tuple[int, str]:
    i, _, _ = str(f.doc.get("shard") or "").partition("/")
    return (int(i) if i.isdigit() else 0, str(f.path))


def merge(parts: list[Path], report_dir: Path | None = None) -> tuple[list[Result], dict[str, Any], list[int], float]:
    """(results in plan order, meta for the reports, their plan indices, wall seconds)."""
    files: list[ResultsFile] = sorted((load(_file(p)) for p in parts), key=_shard_index)
    first = files[0].doc
    for f in files[1:]:
        for key in SAME:
            if f.doc.get(key) != first.get(key):
                raise SelectionError(f"{f.path} and {files[0].path} differ in {key!r}: they are not parts of one run")
    stopped = [str(f.path) for f in files if f.doc.get("interrupted")]
    if stopped:
        raise SelectionError(f"{', '.join(stopped)}: interrupted, so some of its cases never ran; run that part again")
    totals = {f.doc.get("plan_total") for f in files}
    if len(totals) != 1 or None in totals:
        raise SelectionError(
            "the parts disagree on how many cases the run planned "
            f"({', '.join(map(str, totals))}); were they made with the same axes?"
        )
    total = totals.pop()
    assert total is not None, "checked above"
    placed: dict[int, tuple[Result, Path]] = {}
    for f in files:
        for r, i in zip(f.results, f.order):
            if i in placed:
                raise SelectionError(f"case {r.case.id} is in both {placed[i][1]} and {f.path}")
            placed[i] = (r, f.path)
    missing = sorted(set(range(total)) - set(placed))
    if missing:
        shards = sorted({str(f.doc.get("shard")) for f in files})
        raise SelectionError(
            f"{len(missing)} of {total} planned cases are in no part (parts given: "
            f"{', '.join(shards)}); is a part missing?"
        )
    order = sorted(placed)
    results = [placed[i][0] for i in order]
    seconds = max(float(f.doc.get("duration_s") or 0) for f in files)
    meta = {k: v for k, v in first.items() if k not in ("schema", "summary")}
    meta.update(
        run_id="+".join(str(f.doc.get("run_id")) for f in files),
        started=min(str(f.doc.get("started")) for f in files),
        duration_s=round(seconds, 1),
        planned=total,
        plan_total=total,
        shard=None,
    )
    if "command" in first:
        meta["command"] = _unsharded(first["command"], report_dir)
    if "versions" in first:
        meta["versions"] = _versions([f.doc.get("versions") or {} for f in files])
        if any(_system(f.doc.get("versions") or {}) != _system(first["versions"]) for f in files):
            meta["versions_by_part"] = {str(f.path): f.doc.get("versions") for f in files}
    return results, meta, order, seconds


def _system(v: dict[str, Any]) -> dict[str, Any]:
    return {k: x for k, x in v.items() if k not in ("servers", "clients")}


def _versions(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The first part's system versions; the servers and clients any part used."""
    out = dict(parts[0])
    for kind in ("servers", "clients"):
        out[kind] = dict(sorted({k: v for p in parts for k, v in (p.get(kind) or {}).items()}.items()))
    return out
