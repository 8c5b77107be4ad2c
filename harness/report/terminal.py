"""The compact matrix (rows and columns from harness/report/grid.py), peers table, summary and failures."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from harness.core import timing
from harness.core.case import Case
from harness.judge.verdict import Result
from harness.report import grid
from harness.report.grid import column as _column  # noqa: F401 - the name other report modules import

CELL_STYLE = {"pass": "bold green", "fail": "bold red", "error": "bold magenta", "skip": "dim"}


def cell(r: Result) -> Text:
    v = r.verdict
    mark = {"pass": "pass", "fail": f"✗ {v.stage}", "error": "ERROR", "skip": "skip"}[v.outcome]
    if v.outcome == "pass" and v.evidence.tampered:
        mark = "pass*"
    if v.outcome == "pass" and v.evidence.fell_back_to_passive:
        mark = "pass→pasv"
    if v.outcome == "pass" and v.evidence.unfiltered:
        mark = "pass!"
    if r.flaky:
        bad = sum(1 for x in r.runs if x.outcome != "pass")
        return Text(f"~ flaky {bad}/{len(r.runs)}", style="bold yellow")
    return Text(mark, style=CELL_STYLE[v.outcome])


def matrix(results: list[Result]) -> Table:
    g = grid.build(results)
    t = Table(title="FTP/FTPS connectivity matrix", header_style="bold", pad_edge=False)
    for h in g.headers:
        t.add_column(h, no_wrap=True, min_width={"topology": 14, "tls": 8}.get(h))
    for c in g.columns:
        t.add_column(c, no_wrap=True)
    prev = None
    for key, cells in g.rows.items():
        if prev is not None and key[0] != prev:
            t.add_section()
        prev = key[0]
        t.add_row(*key, *[cell(cells[c]) if c in cells else Text("-") for c in g.columns])
    return t


def summary_line(results: list[Result], seconds: float) -> Text:
    n = {
        o: sum(1 for r in results if r.verdict.outcome == o and not r.flaky) for o in ("pass", "fail", "skip", "error")
    }
    flaky = sum(1 for r in results if r.flaky)
    return Text.assemble(
        f"{len(results)} cases in {seconds:.1f}s: ",
        *(((f"{flaky} flaky", "bold yellow"), ", ") if flaky else ()),
        (f"{n['pass']} pass", "green"),
        ", ",
        (f"{n['fail']} fail", "red"),
        ", ",
        f"{n['skip']} skip, ",
        (f"{n['error']} error", "magenta" if n["error"] else ""),
        ".  pass* = passed because a middlebox rewrote control lines; pass→pasv = the "
        "client gave up active mode; pass! = passed through a firewall that does not "
        "filter this address family (security finding); ✗ stage = first failing stage"
        + ("; ~ flaky k/n = failed k of n runs (its runs disagree)." if flaky else "."),
        *(("\n" + line,) if (line := timing.summary(r.phases for r in results)) else ()),
    )


def findings(results: list[Result], console: Console) -> None:
    """One line per security finding the cases carry (harness/judge/findings.py)."""
    seen: dict[str, list[Result]] = {}
    for r in results:
        for f in r.verdict.evidence.findings:
            seen.setdefault(f"{f.severity} {f.check}: {f.title}", []).append(r)
    for text, rs in seen.items():
        console.print(
            f"finding {text} ({len(rs)} case{'s' if len(rs) != 1 else ''}, e.g. {rs[0].case.id})", highlight=False
        )


def failures(
    results: list[Result], console: Console, limit: int = 0, rerun: Callable[[Case], str] | None = None
) -> None:
    """One line per distinct diagnosis, so the table's ✗ cells can be read. Harness errors
    are grouped by their reason: each says why its cases have no verdict. Each failure ends
    with the command that re-runs its example case, if `rerun` makes one."""
    seen: dict[str, list[Result]] = {}
    for r in results:
        if r.verdict.outcome in ("skip", "error"):
            seen.setdefault(f"{r.verdict.outcome}: {r.verdict.diagnosis}", []).append(r)
        elif r.verdict.outcome != "pass":
            seen.setdefault(r.verdict.check, []).append(r)
    for check, rs in seen.items():
        r = rs[0]
        if r.verdict.outcome == "skip":
            console.print(Text.assemble(("skip", "bold"), f" ({len(rs)} cases): {r.verdict.diagnosis}"))
            continue
        if r.verdict.outcome == "error":
            console.print(
                Text.assemble(
                    (f"{len(rs)} case{'s' if len(rs) != 1 else ''} ended in error", "bold magenta"),
                    f", e.g. {r.case.id}:",
                )
            )
        else:
            console.print(Text.assemble((f"{check}", "bold"), f" ({len(rs)} cases), e.g. {r.case.id}:"))
        console.print(Padding(Text(r.verdict.diagnosis), (0, 0, 0, 4)))
        if rerun:
            console.print(Padding(Text(f"re-run: {rerun(r.case)}", style="cyan"), (0, 0, 0, 4)))


def peer_counts(
    results: list[Result],
) -> tuple[list[str], list[str], list[str], dict[tuple[str, str, str], dict[str, int]]]:
    """(topologies, servers, clients, {(topology, server, client): {outcome: n}})."""
    topos: list[str] = []
    srvs: list[str] = []
    clis: list[str] = []
    counts: dict[tuple[str, str, str], dict[str, int]] = {}
    for r in results:
        t, s, c = r.case.lab, r.case.server.impl, r.case.client.impl
        for lst, v in ((topos, t), (srvs, s), (clis, c)):
            if v not in lst:
                lst.append(v)
        counts.setdefault((t, s, c), {}).setdefault(r.verdict.outcome, 0)
        counts[(t, s, c)][r.verdict.outcome] += 1
    return topos, srvs, clis, counts


def peer_cell(n: dict[str, int]) -> str:
    run = n.get("pass", 0) + n.get("fail", 0) + n.get("error", 0)
    text = f"{n.get('pass', 0)}/{run}" if run else "-"
    return text + (f" +{n['skip']} skip" if n.get("skip") else "")


def peers(results: list[Result]) -> Table:
    """Server × client per topology: passed / run (skips apart)."""
    topos, srvs, clis, counts = peer_counts(results)
    t = Table(title="server × client (cases passed / run)", header_style="bold", pad_edge=False)
    t.add_column("topology", no_wrap=True, min_width=14)
    t.add_column("server", no_wrap=True)
    for c in clis:
        t.add_column(c, no_wrap=True)
    for topo in topos:
        for srv in srvs:
            cells = []
            for c in clis:
                n = counts.get((topo, srv, c), {})
                style = (
                    "green"
                    if n and not n.get("fail") and not n.get("error") and n.get("pass")
                    else "red"
                    if n.get("fail") and not n.get("pass")
                    else "yellow"
                )
                cells.append(Text(peer_cell(n), style=style if n else ""))
            t.add_row(topo, srv, *cells)
        t.add_section()
    return t
