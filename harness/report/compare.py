"""`compare OLD NEW`: which cases changed outcome, stage or check, and which came or went."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from harness.plan.selection import read_results

FIELDS = ("outcome", "stage", "check")


@dataclass(frozen=True)
class Change:
    id: str
    kind: str  # changed | flaky (either run found the case flaky: not a change) | added | removed
    old: dict[str, str | None] | None
    new: dict[str, str | None] | None

    @property
    def regression(self) -> bool:
        """pass -> fail or error, where neither run found the case flaky."""
        return bool(
            self.kind == "changed"
            and self.old
            and self.new
            and self.old["outcome"] == "pass"
            and self.new["outcome"] in ("fail", "error")
        )


def _key(c: dict[str, Any]) -> dict[str, str | None]:
    k = {f: c.get(f) for f in FIELDS}
    if c.get("flaky"):
        bad = sum(1 for r in c.get("runs", []) if r.get("outcome") != "pass")
        k["flaky"] = f"failed {bad} of {len(c.get('runs', []))} runs"
    return k


def compare(old_path: Path, new_path: Path) -> list[Change]:
    old = {c["id"]: c for c in read_results(old_path)["cases"]}
    new = {c["id"]: c for c in read_results(new_path)["cases"]}
    out = []
    for cid, c in new.items():
        if cid not in old:
            out.append(Change(cid, "added", None, _key(c)))
        elif _key(old[cid]) != _key(c):
            was, now = _key(old[cid]), _key(c)
            out.append(Change(cid, "flaky" if "flaky" in was or "flaky" in now else "changed", was, now))
    out += [Change(cid, "removed", _key(c), None) for cid, c in old.items() if cid not in new]
    return out


def _short(k: dict[str, str | None] | None) -> str:
    if k is None:
        return "-"
    parts = (k["outcome"], k["stage"] and f"at {k['stage']}", k["check"] and f"({k['check']})", k.get("flaky"))
    return " ".join(x for x in parts if x)


def table(changes: list[Change], old: Path, new: Path) -> Table:
    t = Table(title=f"{old} → {new}: {len(changes)} change(s)", header_style="bold", pad_edge=False)
    for col in ("case", "change", "before", "after"):
        t.add_column(col, overflow="fold")
    for ch in changes:
        style = (
            "bold red"
            if ch.regression
            else "yellow"
            if ch.kind == "flaky"
            else "green"
            if ch.new and ch.new["outcome"] == "pass" and ch.old and ch.old["outcome"] != "pass"
            else ""
        )
        t.add_row(ch.id, "REGRESSION" if ch.regression else ch.kind, _short(ch.old), _short(ch.new), style=style)
    return t


def as_json(changes: list[Change]) -> dict[str, Any]:
    return {
        "changes": [dict(asdict(c), regression=c.regression) for c in changes],
        "regressions": sum(c.regression for c in changes),
    }
