"""reproduce: run a scenario, show each failure with its evidence, then try every known fix
that applies, each as a real re-run, and show what works, what it costs, and the rules."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from harness.core.case import Case
from harness.judge import fixes
from harness.judge.verdict import Result
from harness.report import rules as rules_report
from harness.report import terminal


@dataclass
class Attempt:
    failing: Result
    fix: fixes.Fix
    case: Case
    result: Result | None = None


def plan_fixes(results: list[Result]) -> list[Attempt]:
    out = []
    for r in results:
        if r.verdict.outcome == "fail":
            out += [Attempt(r, f, c) for f, c in fixes.candidates(r.case, r.verdict)]
    return out


def show_failure(r: Result, console: Console) -> None:
    v = r.verdict
    console.print(Text.assemble(("✗ ", "bold red"), (r.case.id, "bold"), f"  stage {v.stage}  [{v.check}]"))
    console.print(Padding(Text(v.diagnosis), (0, 0, 0, 4)))
    ev = v.evidence
    lines = []
    for p in ev.control[:4]:
        mark = "  (REWRITTEN)" if p.tampered else ""
        lines.append(f"{p.direction}: sent '{p.sent}', received '{p.received}'{mark}")
    for d in ev.data_connections[-1:]:
        target = d.target or d.listen or "?"
        lines.append(
            f"data connection {d.cmd or ''} to {target}: {d.result or 'not attempted'}"
            + (f", server: {d.late_reply}" if d.late_reply else "")
        )
    for box, n in ev.firewall_rejected.items():
        lines.append(f"{box}: reject rule counted {n} packet(s)")
    for box, evs in ev.helper_expectations.items():
        lines.append(f"{box}: {len(evs)} helper expectation event(s), e.g. {evs[0][:110]}")
    for line in ev.server_log[-2:]:
        lines.append(f"server log: {line}")
    for line in lines:
        console.print(Padding(Text("· " + line, style="dim"), (0, 0, 0, 4)))


def fixes_table(attempts: list[Attempt]) -> Table:
    t = Table(title="Fixes tried (each a real re-run)", header_style="bold", pad_edge=False)
    for col in ("failing case", "fix", "result", "cost"):
        t.add_column(col, overflow="fold")
    for a in attempts:
        r = a.result
        if r is None:
            res = Text("not run", style="dim")
        elif r.flaky:  # its runs disagree (--repeat): a matter of chance, not a fix
            res = Text(f"flaky: {r.flaky_said()}", style="yellow")
        elif r.verdict.outcome == "pass":
            res = Text("PASS" + (" (weakened)" if r.verdict.evidence.security_weakened else ""), style="bold green")
        else:
            res = Text(f"still fails: {r.verdict.outcome} {r.verdict.stage or ''}".strip(), style="red")
        t.add_row(a.failing.case.id, f"{a.fix.name}: {a.fix.what}", res, a.fix.cost)
    return t


def report(results: list[Result], attempts: list[Attempt], console: Console, headline: Text | None = None) -> None:
    """The matrix, each failure, `headline` (reproduce --from: the verdict on the ticket), then
    the fixes that were tried and the rules of those that worked."""
    console.print(terminal.matrix(results))
    failing = [r for r in results if r.verdict.outcome == "fail"]
    for r in failing:
        show_failure(r, console)
    if headline is not None:
        console.print(headline)
    if not attempts:
        if failing:
            console.print(Text("No known fix applies to these failures.", style="yellow"))
        return
    console.print(fixes_table(attempts))
    worked = [a.result for a in attempts if a.result and a.result.verdict.outcome == "pass"]
    by_fix: dict[str, list[Attempt]] = {}
    for a in attempts:
        by_fix.setdefault(a.fix.name, []).append(a)
    for name, group in by_fix.items():
        ok = sum(1 for a in group if a.result and a.result.verdict.outcome == "pass")
        console.print(
            Text.assemble(
                (f"{name}", "bold"),
                f": made {ok} of {len(group)} failing case(s) pass. ",
                (group[0].fix.cost, "italic"),
            )
        )
    if worked:
        rules_report.terminal(worked, console)
