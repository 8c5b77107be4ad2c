"""The matrix as a Markdown table (for rules.md now, summary.md later)."""
from __future__ import annotations

from ..model import Result
from .terminal import _column, _row, peer_cell, peer_counts


def matrix(results: list[Result]) -> str:
    cols: list[str] = []
    rows: dict[tuple, dict[str, Result]] = {}
    for r in results:
        c = _column(r)
        if c not in cols:
            cols.append(c)
        rows.setdefault(_row(r), {})[c] = r
    out = ["| topology | server | client | tls | masq | " + " | ".join(cols) + " |",
           "|" + "---|" * (5 + len(cols))]
    for key, cells in rows.items():
        marks = []
        for c in cols:
            r = cells.get(c)
            if r is None:
                marks.append("-")
            elif r.verdict.outcome == "pass":
                marks.append("pass*" if r.verdict.evidence.get("tampered") else "pass")
            else:
                marks.append(f"**{r.verdict.outcome}** {r.verdict.stage or ''}".strip())
        out.append("| " + " | ".join(key) + " | " + " | ".join(marks) + " |")
    return "\n".join(out)


def peers(results: list[Result]) -> str:
    topos, srvs, clis, counts = peer_counts(results)
    out = ["| topology | server | " + " | ".join(clis) + " |", "|" + "---|" * (2 + len(clis))]
    for topo in topos:
        for srv in srvs:
            out.append(f"| {topo} | {srv} | " + " | ".join(peer_cell(counts.get((topo, srv, c), {}))
                                                      for c in clis) + " |")
    return "\n".join(out)
