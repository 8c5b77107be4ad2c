"""The compact matrix: one row per topology/tls/masquerade, one column per mode/PASV policy."""
from __future__ import annotations

from typing import Callable

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..model import Case, Result

CELL_STYLE = {"pass": "bold green", "fail": "bold red", "error": "bold magenta", "skip": "dim"}


def _column(r: Result) -> str:
    c = r.case.client
    return c.mode if c.pasv_address is None else f"{c.mode}/{c.pasv_address}"


def _row(r: Result) -> tuple[str, ...]:
    s = r.case.server
    return (r.case.topology, s.impl, r.case.client.impl, s.tls, "on" if s.masquerade else "off")


def cell(r: Result) -> Text:
    v = r.verdict
    mark = {"pass": "pass", "fail": f"✗ {v.stage}", "error": "ERROR", "skip": "skip"}[v.outcome]
    if v.outcome == "pass" and v.evidence.get("tampered"):
        mark = "pass*"
    if v.outcome == "pass" and v.evidence.get("fell_back_to_passive"):
        mark = "pass→pasv"
    return Text(mark, style=CELL_STYLE[v.outcome])


def matrix(results: list[Result]) -> Table:
    cols: list[str] = []
    rows: dict[tuple[str, ...], dict[str, Result]] = {}
    for r in results:
        col = _column(r)
        if col not in cols:
            cols.append(col)
        rows.setdefault(_row(r), {})[col] = r
    show_impl = len({k[1:3] for k in rows}) > 1
    t = Table(title="FTP/FTPS connectivity matrix", header_style="bold", pad_edge=False)
    t.add_column("topology", no_wrap=True, min_width=14)
    if show_impl:
        t.add_column("server", no_wrap=True)
        t.add_column("client", no_wrap=True)
    t.add_column("tls", no_wrap=True, min_width=8)
    t.add_column("masq", no_wrap=True)
    for c in cols:
        t.add_column(c, no_wrap=True)
    prev = None
    for key, cells in rows.items():
        head = list(key) if show_impl else [key[0], key[3], key[4]]
        if prev is not None and key[0] != prev:
            t.add_section()
        prev = key[0]
        t.add_row(*head, *[cell(cells[c]) if c in cells else Text("-") for c in cols])
    return t


def summary_line(results: list[Result], seconds: float) -> Text:
    n = {o: sum(1 for r in results if r.verdict.outcome == o) for o in ("pass", "fail", "skip", "error")}
    return Text.assemble(f"{len(results)} cases in {seconds:.1f}s: ",
                         (f"{n['pass']} pass", "green"), ", ", (f"{n['fail']} fail", "red"), ", ",
                         f"{n['skip']} skip, ",
                         (f"{n['error']} error", "magenta" if n["error"] else ""),
                         ".  pass* = passed because a middlebox rewrote control lines; pass→pasv = the "
                         "client gave up active mode; ✗ stage = first failing stage.")


def failures(results: list[Result], console: Console, limit: int = 0,
             rerun: Callable[[Case], str] | None = None) -> None:
    """One line per distinct diagnosis, so the table's ✗ cells can be read; each ends with the
    command that re-runs its example case, if `rerun` makes one."""
    seen: dict[str, list[Result]] = {}
    for r in results:
        if r.verdict.outcome == "skip":
            seen.setdefault(f"skip: {r.verdict.diagnosis}", []).append(r)
        elif r.verdict.outcome != "pass":
            seen.setdefault(r.verdict.check, []).append(r)
    for check, rs in seen.items():
        r = rs[0]
        if r.verdict.outcome == "skip":
            console.print(Text.assemble(("skip", "bold"), f" ({len(rs)} cases): {r.verdict.diagnosis}"))
            continue
        console.print(Text.assemble((f"{check}", "bold"), f" ({len(rs)} cases), e.g. {r.case.id}:"))
        console.print(Padding(Text(r.verdict.diagnosis), (0, 0, 0, 4)))
        if rerun:
            console.print(Padding(Text(f"re-run: {rerun(r.case)}", style="cyan"), (0, 0, 0, 4)))


def peer_counts(results: list[Result]) -> tuple[list[str], list[str], list[str], dict]:
    """(topologies, servers, clients, {(topology, server, client): {outcome: n}})."""
    topos, srvs, clis = [], [], []
    counts: dict[tuple[str, str, str], dict[str, int]] = {}
    for r in results:
        t, s, c = r.case.topology, r.case.server.impl, r.case.client.impl
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
                style = "green" if n and not n.get("fail") and not n.get("error") and n.get("pass") else \
                    "red" if n.get("fail") and not n.get("pass") else "yellow"
                cells.append(Text(peer_cell(n), style=style if n else ""))
            t.add_row(topo, srv, *cells)
        t.add_section()
    return t
