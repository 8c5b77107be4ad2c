"""The probe document drawn for people: terminal, Markdown and HTML; and its JSON."""

from __future__ import annotations

import dataclasses
import html
import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.probe.model import DataConnection, ProbeReport
from harness.report.terminal import CELL_STYLE

SEV_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def to_json(r: ProbeReport) -> dict[str, Any]:
    return dataclasses.asdict(r)


def write_json(path: Path, r: ProbeReport) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(to_json(r), indent=1, ensure_ascii=False) + "\n")


def _facts(r: ProbeReport) -> list[tuple[str, str]]:
    """The server-wide facts, as label/value pairs (shared by every renderer)."""
    out = [("target", f"{r.target} (TLS {r.tls}, user {r.user})")]
    if not r.reached:
        return out + [("result", f"not reached: {r.unreached}")]
    out.append(("banner", " / ".join(r.banner) or "-"))
    f = r.features
    if f:

        def yn(v: bool | None) -> str:
            return "?" if v is None else ("yes" if v else "no")

        out.append(("FEAT", "answered" if f.feat_answered else "not answered"))
        out.append(
            (
                "supports",
                f"AUTH TLS {yn(f.auth_tls)}, CCC {yn(f.ccc)}, EPSV {yn(f.epsv)}, "
                f"EPRT {yn(f.eprt)}, MLSD {yn(f.mlsd)} (from FEAT unless said below)",
            )
        )
        out.append(
            (
                "TLS session reuse",
                "required"
                if f.session_reuse_required
                else "not required"
                if f.session_reuse_required is False
                else "not known",
            )
        )
        out += [("", e) for e in f.evidence]
    p = r.tls_posture
    if p:
        out.append(
            (
                "TLS",
                f"{p.control or '-'} {p.cipher or ''}; accepted alone: "
                f"{', '.join(p.accepted) or 'none'}; refused: {', '.join(p.refused) or 'none'}"
                + (f"; untested: {', '.join(p.untested)}" if p.untested else ""),
            )
        )
        out.append(("weak suites", f"accepted {p.weak_cipher}" if p.weak_cipher else p.weak_note))
    c = r.certificate
    if c:
        out.append(
            (
                "certificate",
                f"{c.subject}, issued by {c.issuer}; {c.key} {c.key_bits or '?'} bits; "
                f"expires {c.not_after[:10]} ({c.days_left} days)",
            )
        )
        out.append(
            (
                "",
                f"names: {', '.join(c.names) or 'none'}; matches {r.host}: "
                f"{'yes' if c.name_match else 'no'}; chain to {c.chain_to}: {c.chain}",
            )
        )
    out += [("note", n) for n in r.notes]
    return out


def _data_line(d: DataConnection) -> str:
    bits = [d.cmd, d.reply or ""]
    if d.advertised:
        bits.append(f"advertised {d.advertised} ({d.address_class})")
    bits.append(f"→ {d.target or '-'} {d.result or 'not tried'}")
    if d.tls_version:
        bits.append(f"{d.tls_version} {d.cipher or ''} reused={d.session_reused}")
    if d.bytes is not None:
        bits.append(f"{d.bytes} bytes")
    return " ".join(b for b in bits if b)


def terminal(r: ProbeReport, console: Console, verbose: bool = False) -> None:
    console.print(Text(f"probe {r.target}: {r.outcome.upper()}", style=CELL_STYLE.get(r.outcome, "")))
    for k, v in _facts(r):
        console.print(f"  {k:<18} {v}", highlight=False)
    if r.modes:
        t = Table(title="modes", header_style="bold", pad_edge=False)
        for h in ("mode", "result", "stage", "data connection", "findings"):
            t.add_column(h)
        for m in r.modes:
            t.add_row(
                m.mode,
                Text(m.outcome, style=CELL_STYLE[m.outcome]),
                m.stage or "",
                "\n".join(_data_line(d) for d in m.data) or "-",
                ", ".join(m.findings),
            )
        console.print(t)
        for m in r.modes:
            if m.outcome != "pass":
                console.print(f"  {m.mode}: {m.diagnosis}", highlight=False)
                for e in m.evidence:
                    console.print(f"      evidence: {e}", highlight=False)
    if r.findings:
        console.print(Text("findings", style="bold"))
        for f in r.findings:
            console.print(Text.assemble((f"  {f.severity:<8}", SEV_STYLE[f.severity]), f" {f.check}: {f.title}"))
            console.print(f"           evidence: {f.evidence}", highlight=False)
            console.print(f"           fix: {f.fix}", highlight=False)
    if verbose:
        for m in r.modes:
            console.print(f"  {m.mode} lines as received here (the sender's side is unknown):")
            for l in m.lines:
                console.print(f"    {'>' if l.dir == 'sent' else '<'} {l.line}", highlight=False)
    if r.modes and not verbose:
        console.print(
            "Control lines as this machine received them: -v, --markdown or --html "
            "(what the server sent is unknown from here).",
            highlight=False,
        )
    console.print(f"{len(r.findings)} finding(s); fail on {r.fail_on} and above; {r.duration_s:.1f}s", highlight=False)


def _md(text: str) -> str:
    """Safe in a Markdown table cell (EPSV replies carry pipes)."""
    return text.replace("|", "\\|")


def markdown(r: ProbeReport) -> str:
    out = [f"# Probe of {r.target}: {r.outcome}", ""]
    out += [f"- **{k}**: {v}" if k else f"  - {v}" for k, v in _facts(r)]
    if r.modes:
        out += ["", "## Modes", "", "| mode | result | stage | data connection | findings |", "|---|---|---|---|---|"]
        for m in r.modes:
            cell = "<br>".join(_md(_data_line(d)) for d in m.data) or "-"
            out.append(f"| {m.mode} | {m.outcome} | {m.stage or ''} | {cell} | {', '.join(m.findings)} |")
        for m in r.modes:
            if m.outcome != "pass":
                out += ["", f"**{m.mode}**: {m.diagnosis}"] + [f"- evidence: `{e}`" for e in m.evidence]
    if r.findings:
        out += ["", "## Findings", "", "| severity | check | evidence | fix |", "|---|---|---|---|"]
        out += [
            f"| {f.severity} | {f.check}: {_md(f.title)} | `{_md(f.evidence)}` | {_md(f.fix)} |" for f in r.findings
        ]
    out += ["", "## Lines", "", f"_{r.sender_note}_"]
    for m in r.modes:
        out += (
            ["", f"### {m.mode}", "", "```"]
            + [f"{'>' if l.dir == 'sent' else '<'} {l.line}" for l in m.lines]
            + ["```"]
        )
    return "\n".join(out) + "\n"


def page(r: ProbeReport) -> str:
    e = html.escape
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _facts(r))
    modes = "".join(
        f"<tr class='{m.outcome}'><td>{m.mode}</td><td>{m.outcome}</td><td>{e(m.stage or '')}</td>"
        f"<td>{'<br>'.join(e(_data_line(d)) for d in m.data)}</td><td>{e(', '.join(m.findings))}</td>"
        f"<td>{e(m.diagnosis)}</td></tr>"
        for m in r.modes
    )
    finds = "".join(
        f"<tr class='{f.severity}'><td>{f.severity}</td><td>{e(f.check)}: {e(f.title)}</td>"
        f"<td><code>{e(f.evidence)}</code></td><td>{e(f.fix)}</td></tr>"
        for f in r.findings
    )
    lines = "".join(
        f"<h3>{m.mode}</h3><pre>"
        + e("\n".join(f"{'>' if l.dir == 'sent' else '<'} {l.line}" for l in m.lines))
        + "</pre>"
        for m in r.modes
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>probe {e(r.target)}</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:3px 6px;text-align:left;vertical-align:top}}.pass td:nth-child(2){{color:#070}}.fail td:nth-child(2){{color:#b00}}
.high td:first-child,.critical td:first-child{{color:#b00;font-weight:bold}}.medium td:first-child{{color:#a60}}</style>
</head><body><h1>Probe of {e(r.target)}: {r.outcome}</h1><table>{rows}</table>
<h2>Modes</h2><table><tr><th>mode</th><th>result</th><th>stage</th><th>data connection</th><th>findings</th><th>diagnosis</th></tr>{modes}</table>
<h2>Findings</h2><table><tr><th>severity</th><th>check</th><th>evidence</th><th>fix</th></tr>{finds}</table>
<h2>Lines</h2><p><em>{e(r.sender_note)}</em></p>{lines}</body></html>
"""
