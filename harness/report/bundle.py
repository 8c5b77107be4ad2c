"""Every report of one run in one folder (--report-dir, and `merge`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.judge.verdict import Result
from harness.report import html, jsonfile, junit, markdown
from harness.report import rules as rules_report

NAMES = ("results.json", "rules.md", "summary.md", "details.md", "junit.xml", "index.html")


def rules_markdown(results: list[Result], rules: bool) -> str | None:
    if not rules:
        return None
    multi = len({(r.case.server.impl, r.case.client.impl) for r in results}) > 1
    return rules_report.markdown(results, markdown.matrix(results), markdown.peers(results) if multi else "")


def headline_of(meta: dict[str, Any]) -> str:
    """The command's own verdict, if it has one: reproduce --from's verdict on the ticket."""
    ticket = meta.get("ticket") or {}
    return f"Ticket: {ticket['verdict']}" if ticket.get("verdict") else ""


def write(
    d: Path, results: list[Result], meta: dict[str, Any], seconds: float, order: list[int] | None = None
) -> list[str]:
    """Write the reports; returns the names written. `meta` goes into results.json and the
    HTML header (backend, started, run_id, versions, command, axes, options...)."""
    d.mkdir(parents=True, exist_ok=True)
    rules_md = rules_markdown(results, meta.get("options", {}).get("rules", True))
    jsonfile.write(d / "results.json", results, meta["backend"], meta["started"], meta, order)
    if rules_md:
        (d / "rules.md").write_text(rules_md)
    headline = headline_of(meta)
    (d / "summary.md").write_text(markdown.summary(results, seconds, headline))
    (d / "details.md").write_text(markdown.details(results, seconds, rules_md, headline))
    junit.write(d / "junit.xml", results, seconds, headline)
    html.write(d / "index.html", results, meta)
    return [n for n in NAMES if rules_md or n != "rules.md"]
