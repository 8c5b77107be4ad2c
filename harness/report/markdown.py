"""Markdown: the matrix, summary.md (fits a ticket) and details.md (every case)."""

from __future__ import annotations

from harness.judge.verdict import Result
from harness.report import grid
from harness.report.glance import failure_kinds, topology_glance
from harness.report.terminal import peer_cell, peer_counts


def matrix(results: list[Result]) -> str:
    g = grid.build(results)
    out = ["| " + " | ".join(g.headers + g.columns) + " |", "|" + "---|" * (len(g.headers) + len(g.columns))]
    for key, cells in g.rows.items():
        marks = []
        for c in g.columns:
            r = cells.get(c)
            if r is None:
                marks.append("-")
            elif r.flaky:
                marks.append(f"**flaky** {r.flaky_said()}")
            elif r.verdict.outcome == "pass":
                ev = r.verdict.evidence
                marks.append(
                    "pass!"
                    if ev.unfiltered
                    else "pass→pasv"
                    if ev.fell_back_to_passive
                    else "pass*"
                    if ev.tampered
                    else "pass"
                )
            else:
                marks.append(f"**{r.verdict.outcome}** {r.verdict.stage or ''}".strip())
        out.append("| " + " | ".join(key) + " | " + " | ".join(marks) + " |")
    return "\n".join(out)


def peers(results: list[Result]) -> str:
    topos, srvs, clis, counts = peer_counts(results)
    out = ["| topology | server | " + " | ".join(clis) + " |", "|" + "---|" * (2 + len(clis))]
    for topo in topos:
        for srv in srvs:
            out.append(
                f"| {topo} | {srv} | " + " | ".join(peer_cell(counts.get((topo, srv, c), {})) for c in clis) + " |"
            )
    return "\n".join(out)


LIMIT = 30_000  # characters: fits a ticket comment
DETAILS = "details.md"


def _head(results: list[Result], seconds: float, headline: str = "") -> list[str]:
    n = {o: sum(1 for r in results if r.verdict.outcome == o) for o in ("pass", "fail", "skip", "error")}
    return [
        *([f"**{headline}**", ""] if headline else []),
        f"{len(results)} cases in {seconds:.0f} s: **{n['pass']} pass**, **{n['fail']} fail**, "
        f"{n['skip']} skip, {n['error']} error. `pass*` = passed because a middlebox rewrote "
        "control lines; `pass→pasv` = the client gave up active mode; `pass!` = passed "
        "through a firewall that does not filter this address family (security finding).",
        "",
    ]


def details(results: list[Result], seconds: float, rules_md: str | None = None, headline: str = "") -> str:
    """details.md: the whole matrix, every failing case's diagnosis and every rule set.
    `headline`: the command's own verdict (reproduce --from: the verdict on the ticket)."""
    out = ["# FTP/FTPS connectivity: every case", "", *_head(results, seconds, headline), matrix(results), ""]
    if len({(r.case.server.impl, r.case.client.impl) for r in results}) > 1:
        out += ["## Server × client (cases passed / run)", "", peers(results), ""]
    out += flaky_section(results)
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
    flagged = [(r, f) for r in results for f in r.verdict.evidence.findings]
    if flagged:
        out += ["## Security findings (the probe's checks, in these cases' own facts)", ""]
        out += [
            f"- `{r.case.id}` ({r.verdict.outcome}) — {f.severity} **{f.check}**: `{f.evidence}`. Fix: {f.fix}"
            for r, f in flagged
        ] + [""]
    if rules_md and "## Rule sets" in rules_md:  # merge the rule sets from rules.md
        out += ["---", "", "## Rule sets" + rules_md.split("## Rule sets", 1)[1]]
    return "\n".join(out) + "\n"


def flaky_section(results: list[Result]) -> list[str]:
    """Cases whose runs disagree: the counts, and what each kind of run said."""
    flaky = [r for r in results if r.flaky]
    if not flaky:
        return []
    out = [f"## Flaky: {len(flaky)} case{'s' if len(flaky) != 1 else ''} whose runs disagree", ""]
    for r in flaky:
        out.append(f"- `{r.case.id}`: {r.flaky_said()}")
        seen: dict[tuple[str, str | None, str], int] = {}
        for run in r.runs:
            seen[run.key()] = seen.get(run.key(), 0) + 1
        for run in {x.key(): x for x in r.runs}.values():
            diag = run.diagnosis if len(run.diagnosis) <= 300 else run.diagnosis[:300] + "…"
            out.append(f"  - {seen[run.key()]}× {run.said()}: {diag}")
    return [*out, ""]


def summary(results: list[Result], seconds: float, headline: str = "") -> str:
    """summary.md, for pasting into a ticket (at most LIMIT characters): the topologies at a
    glance, one line per kind of failure with its three most telling cases, and the matrix
    when it fits. Everything else is in details.md."""
    out = ["# FTP/FTPS connectivity summary", "", *_head(results, seconds, headline)]
    out += [f"- {g.text}" for g in topology_glance(results)] + [""]
    out += flaky_section(results)
    kinds = failure_kinds(results)
    if kinds:
        out += [f"## Failures: {len(kinds)} kind{'s' if len(kinds) != 1 else ''}", ""]
        for k in kinds:
            diag = k.cases[0].verdict.diagnosis
            diag = diag if len(diag) <= 400 else diag[:400] + "…"
            out.append(
                f"- **{k.check or k.outcome}** at {k.stage or '-'}, {len(k.cases)} case"
                f"{'s' if len(k.cases) != 1 else ''}: {diag}"
            )
            out.append("  e.g. " + ", ".join(f"`{r.case.id}`" for r in k.telling))
        out.append("")
    tail = [f"Every case, diagnosis and rule set: [{DETAILS}]({DETAILS})."]
    table = ["## Matrix", "", matrix(results), ""]
    if sum(len(x) + 1 for x in out + table + tail) <= LIMIT:
        out += table
    text = "\n".join(out + tail) + "\n"
    if len(text) > LIMIT:
        cut = text.rfind("\n", 0, LIMIT - 200)
        text = text[:cut] + f"\n\n… cut to fit {LIMIT} characters; the rest is in [{DETAILS}]({DETAILS}).\n"
    return text
