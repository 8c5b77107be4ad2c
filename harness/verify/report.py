"""verify's report in the terminal, and the proven changes as patch files.

For each failing case: where it stopped; the admin's own rules that were meant for the traffic
and did nothing, each with why, its evidence and the change to that very rule (proven by
re-run, or what its re-run showed); then the other proven changes, smallest first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.judge.verdict import Result
from harness.verify.advise import Advice, Piece, short
from harness.verify.plan import Plan

if TYPE_CHECKING:
    from rich.console import Console


def report(p: Plan, results: list[Result], advice: Sequence[Advice], console: Console) -> None:
    from rich.text import Text

    from harness.report import terminal

    console.print(terminal.matrix(results))
    shown: dict[str, str] = {}
    for a in advice:
        _case(p, a, advice, shown, console)
    bad = [r for r in results if r.verdict.outcome in ("fail", "error")]
    console.print(
        Text(
            f"{len(results) - len(bad)} of {len(results)} required cases work"
            + ("" if not bad else f"; {len(bad)} do not: not ready to deploy"),
            style="bold green" if not bad else "bold red",
        )
    )


def _case(p: Plan, a: Advice, advice: Sequence[Advice], shown: dict[str, str], console: Console) -> None:
    from rich.text import Text

    r = a.result
    console.print(Text.assemble(("✗ ", "bold red"), (p.labels.get(r.case.id, ""), "bold"), f"  {r.case.id}"))
    console.print(Text(f"    {r.verdict.stage}: {r.verdict.diagnosis}"))
    for line in a.stopped:
        console.print(Text(f"    stopped: {line}", style="dim" if not a.traced else ""))
    if a.unchanged_passed:
        console.print(
            Text(
                f"    this case passed {a.unchanged_passed} time(s) when re-run through your "
                "unchanged file: it fails only sometimes, so no re-run can prove that a change "
                "fixed it; the diagnosis above is what this run saw",
                style="yellow",
            )
        )
        for i in a.intents:
            console.print(Text(f"    {i.headline()}", style="yellow"))
        return
    mended = _intents(p, a, advice, shown, console)
    rest = [x for x in a.proven if not any(x is a.mended(i) for i in a.intents)]
    if rest:
        files = "files" if len(p.boxes) > 1 else "file"
        head = (
            f"    also proven, with rules of their own beside yours ({a.tried} re-runs; smallest first):"
            if mended
            else f"    proven by re-running this case through your changed {files} ({a.tried} re-runs; smallest first):"
        )
        console.print(Text(head, style="bold yellow"))
        for x in rest:
            if x.setting:
                console.print(Text(f"    - outside the ruleset too: {x.setting}", style="yellow"))
            for box, edit in x.edits.items():
                on = f"{box} ({p.boxes[box].path.name}): " if len(p.boxes) > 1 else ""
                console.print(Text("\n".join(f"    - {on}{w}" for w in edit.what.splitlines())))
                _diff(x.diffs.get(box, ""), r.case.id, shown, console)
    elif a.settings:
        console.print(
            Text(
                "    nothing in your ruleset fixes this case; a re-run through your ruleset "
                "passed with: " + "; ".join(a.settings),
                style="yellow",
            )
        )
    elif not mended:
        ref = a.reference
        why = f" (the reference firewall: {ref.verdict.outcome}: {ref.verdict.diagnosis})" if ref else ""
        console.print(Text(f"    no change proven: {a.tried} candidate re-runs, none passed{why}", style="yellow"))
    for box in p.boxes:
        if (r2 := a.failed.get((box, "helper"))) is not None:
            on = f" on {box}" if len(p.boxes) > 1 else ""
            console.print(
                Text(
                    f"    the FTP helper{on} (a table of its own) was tried: {_elsewhere((box, 'helper'), a, advice, p)}"
                    f"the re-run still failed: {short(r2)}",
                    style="dim",
                )
            )


def _intents(p: Plan, a: Advice, advice: Sequence[Advice], shown: dict[str, str], console: Console) -> int:
    """Each rule of the admin's that did nothing, why, and its change; how many were proven."""
    from rich.text import Text

    n = 0
    for i in a.intents:
        on = f"{i.box}: " if len(p.boxes) > 1 else ""
        console.print(Text(f"    {on}{i.headline()}", style="bold"))
        for e in i.evidence:
            console.print(Text(f"      {e}", style="dim"))
        x = a.mended(i)
        if i.mend is None:
            said = (
                f"no change to this rule can help: {i.cannot}"
                if i.cannot
                else "no change to this rule was found to try"
            )
            console.print(Text(f"    {said}", style="yellow"))
        elif x is not None:
            n += 1
            console.print(Text(f"    proven by re-run: {i.mend.what}", style="bold yellow"))
            _diff(x.diffs.get(i.box, ""), a.result.case.id, shown, console)
        elif (r := a.failed.get((i.box, i.mend))) is not None:
            piece = (i.box, i.mend)
            console.print(
                Text(
                    f"    tried: {i.mend.what}; {_elsewhere(piece, a, advice, p)}the re-run still failed: {short(r)}",
                    style="yellow",
                )
            )
    return n


def _elsewhere(piece: Piece, a: Advice, advice: Sequence[Advice], p: Plan) -> str:
    """The other cases of the plan this piece alone made pass ("it made curl none epsv pass; ")."""
    others = [
        f"{p.labels.get(b.result.case.id, '')} {b.result.case.server.tls} {b.result.case.client.mode}".strip()
        for b in advice
        if b is not a and any(x.pieces == [piece] for x in b.proven)
    ]
    return f"it made {', '.join(others)} pass; here " if others else ""


def _diff(d: str, case: str, shown: dict[str, str], console: Console) -> None:
    from rich.text import Text

    if d in shown:
        console.print(Text(f"      (the same diff as for {shown[d]})", style="dim"))
        return
    shown[d] = case
    console.print(Text("\n".join("      " + line for line in d.splitlines())), highlight=False, soft_wrap=True)


def write_patches(p: Plan, advice: Sequence[Advice], folder: Path) -> list[tuple[Path, str]]:
    """The smallest proven change of each failing case (a change to the admin's own rule
    first): one patch per box's file and distinct change; each with the command that applies it."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, tuple[Path, str]] = {}
    for a in advice:
        if not a.proven:
            continue
        for box, diff in a.proven[0].diffs.items():
            if diff in out:
                continue
            own = p.boxes[box].path
            where = "" if not os.path.relpath(own).startswith("..") else f" -d {own.parent}"
            label = p.labels.get(a.result.case.id, "case") + (f"-{box}" if len(p.boxes) > 1 else "")
            slug = re.sub(r"[^A-Za-z0-9._]+", "-", label).strip("-.") or "case"  # no quoting needed
            path = folder / f"{len(out) + 1:02d}-{slug}.patch"
            path.write_text(diff)
            out[diff] = (path, f"patch -p0{where} < {path}")
    return list(out.values())
