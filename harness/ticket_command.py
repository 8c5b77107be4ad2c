"""`ftps-harness import FILE...` and `reproduce --from FILE...`: a ticket's files to the
scenario that reproduces it, and after the run, the verdict on the ticket (docs/import.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import shtab
from rich.console import Console
from rich.text import Text

from harness import ticket
from harness.core import inputs
from harness.judge.verdict import Result
from harness.ticket import readers
from harness.ticket.facts import Facts
from harness.ticket.verdict import TicketVerdict
from harness.ticket.verdict import judge as verdict_of

EXIT_OK, EXIT_NO_SCENARIO = 0, 1


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    formats = "; ".join(r.what for r in readers.formats())
    p = sub.add_parser(
        "import",
        help="read a ticket's files (a client log, a pcap) and write the scenario that reproduces it",
        description=f"Reads: {formats}. Several files of one ticket combine (a client log and a "
        "pcap). Prints the facts found, each with its line or packet, and writes the scenario "
        "(to --out, else to standard output). Exit 0: a scenario; 1: the files show no failure a "
        "lab can stand for (it says why); 2: a file no reader takes, or unreadable.",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE").complete = shtab.FILE  # type: ignore[attr-defined]
    p.add_argument("--out", type=Path, metavar="SCENARIO.yaml", help="write the scenario here")


def facts_lines(facts: Facts) -> list[str]:
    """Each fact with the line or packet it rests on, for the terminal."""
    out = []

    def add(name: str, value: object, cite: str) -> None:
        out.append(f"  {name:<16} {value}  [{cite}]")

    if facts.control:
        add("control", f"{facts.control.value[0]} port {facts.control.value[1]}", str(facts.control.where))
    if facts.banner:
        add(
            "banner",
            facts.banner.value.splitlines()[0] + (f" ({facts.server})" if facts.server else ""),
            str(facts.banner.where),
        )
    if facts.tls:
        add("TLS", facts.tls.value + (f", {facts.tls_version.value}" if facts.tls_version else ""), facts.tls.cite())
    for m in facts.modes[-3:]:
        add("data command", m.said, str(m.where))
    if facts.announced:
        kind = f" ({facts.address_kind})" if facts.address_kind else ""
        add("announced", f"{facts.announced.said}{kind}", str(facts.announced.where))
    if facts.used:
        add("client dialled", f"the {facts.used.value} address", facts.used.cite())
    for r in facts.resumption:
        add("TLS resumption", r.value, r.cite())
    for fb in facts.fallbacks:
        add("fell back", fb.value, fb.cite())
    if facts.failure:
        f = facts.failure
        add("failed", f"at {f.stage}: {f.kind}", f.cite())
    else:
        out.append("  no failure in these files")
    return out


def _load(files: list[Path], console: Console) -> ticket.Imported:
    imp = ticket.load(files)
    for log in imp.logs:
        console.print(f"{log.file}: {log.format} ({len(log.events)} events)", highlight=False)
    for line in facts_lines(imp.facts):
        console.print(Text(line), highlight=False)
    if imp.inference:
        console.print(Text(f"explanation: {imp.inference.explanation}: {imp.inference.summary}"))
        for u in imp.inference.undecided:
            console.print(Text(f"undecided: {u}", style="yellow"))
    return imp


def run(args: argparse.Namespace, console: Console) -> int:
    err = Console(stderr=True) if args.out is None else console
    imp = _load(args.files, err)
    if imp.inference is None:
        err.print(Text(f"no scenario: {imp.why_not}", style="bold yellow"))
        return EXIT_NO_SCENARIO
    text = imp.scenario()
    if args.out is None:
        sys.stdout.write(text)
        return EXIT_OK
    inputs.writable_file(args.out, "--out")
    args.out.write_text(text)
    console.print(f"scenario written to {args.out}; run it: ftps-harness reproduce {args.out}")
    return EXIT_OK


def for_reproduce(files: list[Path], folder: Path, console: Console) -> tuple[Path, ticket.Imported] | None:
    """reproduce --from: the ticket's scenario, written to `folder`; None (said why) when the
    files show no failure a lab can stand for."""
    imp = _load(files, console)
    if imp.inference is None:
        console.print(Text(f"nothing to reproduce: {imp.why_not}", style="bold yellow"))
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ticket.scenario.yaml"
    path.write_text(imp.scenario())
    console.print(f"scenario written to {path}")
    return path, imp


def judge(imp: ticket.Imported, results: list[Result]) -> TicketVerdict:
    return verdict_of(imp.facts, results)


def headline(v: TicketVerdict) -> Text:
    return Text(f"ticket: {v.text}", style="bold green" if v.reproduced else "bold red")


def meta(imp: ticket.Imported, v: TicketVerdict | None, scenario: Path) -> dict[str, Any]:
    """What results.json (and every report) carries about the ticket."""
    return {
        "files": [log.file for log in imp.logs],
        "formats": [log.format for log in imp.logs],
        "scenario": str(scenario),
        "explanation": imp.inference.explanation if imp.inference else None,
        "facts": facts_lines(imp.facts),
        **(v.to_json() if v else {}),
    }
