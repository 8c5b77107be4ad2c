"""The matrix as a Markdown table (for rules.md now, summary.md later)."""
from __future__ import annotations

from ..model import Result
from . import grid
from .terminal import peer_cell, peer_counts


def matrix(results: list[Result]) -> str:
    g = grid.build(results)
    out = ["| " + " | ".join(g.headers + g.columns) + " |", "|" + "---|" * (len(g.headers) + len(g.columns))]
    for key, cells in g.rows.items():
        marks = []
        for c in g.columns:
            r = cells.get(c)
            if r is None:
                marks.append("-")
            elif r.verdict.outcome == "pass":
                ev = r.verdict.evidence
                marks.append("pass!" if ev.get("unfiltered") else
                             "pass→pasv" if ev.get("fell_back_to_passive") else
                             "pass*" if ev.get("tampered") else "pass")
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


def summary(results: list[Result], seconds: float, rules_md: str | None = None) -> str:
    """summary.md: the matrix and every failure's diagnosis, for pasting into a ticket."""
    n = {o: sum(1 for r in results if r.verdict.outcome == o) for o in ("pass", "fail", "skip", "error")}
    out = ["# FTP/FTPS connectivity summary", "",
           f"{len(results)} cases in {seconds:.0f} s: **{n['pass']} pass**, **{n['fail']} fail**, "
           f"{n['skip']} skip, {n['error']} error. `pass*` = passed because a middlebox rewrote "
           "control lines; `pass→pasv` = the client gave up active mode; `pass!` = passed "
           "through a firewall that does not filter this address family (security finding).", "", matrix(results), ""]
    if len({(r.case.server.impl, r.case.client.impl) for r in results}) > 1:
        out += ["## Server × client (cases passed / run)", "", peers(results), ""]
    failing = [r for r in results if r.verdict.outcome in ("fail", "error")]
    if failing:
        out += ["## Failures", ""]
        by_check: dict[str, list[Result]] = {}
        for r in failing:
            by_check.setdefault(r.verdict.check, []).append(r)
        for check, rs in by_check.items():
            out += [f"### {check} ({len(rs)} case{'s' if len(rs) != 1 else ''})", ""]
            for r in rs:
                out.append(f"- `{r.case.id}` — **{r.verdict.stage}**: {r.verdict.diagnosis}")
            out.append("")
    flagged = [(r, f) for r in results for f in r.verdict.evidence.get("findings") or ()]
    if flagged:
        out += ["## Security findings (the probe's checks, in these cases' own facts)", ""]
        out += [f"- `{r.case.id}` ({r.verdict.outcome}) — {f['severity']} **{f['check']}**: "
                f"`{f['evidence']}`. Fix: {f['fix']}" for r, f in flagged] + [""]
    if rules_md and "## Rule sets" in rules_md:  # merge the rule sets from rules.md
        out += ["---", "", "## Rule sets" + rules_md.split("## Rule sets", 1)[1]]
    return "\n".join(out) + "\n"
