"""reports/index.html: one self-contained page (no CDN, works offline).

The matrix as a coloured grid, filterable by server, client and outcome; each cell opens the
case: verdict, diagnosis, the topology drawn with the data connection's path, the control
transcript with rewritten lines highlighted, the firewall evidence, the rules in three forms,
and links to the capture and TLS key log when the run made them.
"""

from __future__ import annotations

import dataclasses
import html
import ipaddress
import json
from collections import deque
from pathlib import Path
from typing import Any

from harness.build import topologies
from harness.build.topology import Topology
from harness.core import codec
from harness.judge.evidence import Evidence
from harness.judge.rules.render import iptables, nft, table
from harness.judge.verdict import Result
from harness.report import grid
from harness.report.glance import passing_variants, topology_glance

W, H, BOX_W, BOX_H = 250, 84, 112, 42


def _layout(topo: Topology) -> tuple[dict[str, tuple[int, int]], dict[str, list[str]]]:
    """Host positions by distance from the client, and the path from the client to each host."""
    adj: dict[str, set[str]] = {h.name: set() for h in topo.hosts}
    for link in topo.links:
        adj[link.a.host].add(link.b.host)
        adj[link.b.host].add(link.a.host)
    level, path = {topo.client: 0}, {topo.client: [topo.client]}
    q = deque([topo.client])
    while q:
        h = q.popleft()
        for n in sorted(adj[h]):
            if n not in level:
                level[n], path[n] = level[h] + 1, path[h] + [n]
                q.append(n)
    columns: dict[int, list[str]] = {}
    for host in topo.hosts:
        columns.setdefault(level.get(host.name, 0), []).append(host.name)
    tallest = max(len(v) for v in columns.values())
    pos = {}
    for lv, names in columns.items():
        for i, name in enumerate(names):
            y = (tallest - len(names)) * H // 2 + i * H + 16
            pos[name] = (20 + lv * W, y)
    return pos, path


def topology_svg(topo: Topology) -> tuple[str, dict[str, Any]]:
    pos, paths = _layout(topo)
    width = max(x for x, _ in pos.values()) + BOX_W + 20
    height = max(y for _, y in pos.values()) + BOX_H + 30
    parts = [
        f'<svg class="topo" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><g class="links">'
    ]
    for link in topo.links:
        (x1, y1), (x2, y2) = pos[link.a.host], pos[link.b.host]
        ax, ay, bx, by = x1 + BOX_W / 2, y1 + BOX_H / 2, x2 + BOX_W / 2, y2 + BOX_H / 2
        parts.append(f'<line x1="{ax}" y1="{ay}" x2="{bx}" y2="{by}"/>')
        for end, (port, (px, py), (qx, qy)) in enumerate(((link.a, (ax, ay), (bx, by)), (link.b, (bx, by), (ax, ay)))):
            if port.ip:
                dist = max(((qx - px) ** 2 + (qy - py) ** 2) ** 0.5, 1.0)
                ux, uy = (qx - px) / dist, (qy - py) / dist
                tx = px + ux * (BOX_W / 2 + 36)
                ty = py + uy * (BOX_H / 2 + 14) + (-6 if end == 0 else 14)  # a-end above, b-end below
                shown = [port.ip] + (
                    [str(ipaddress.ip_interface(x).ip) for x in port.extra if ":" in x] if topo.dual_stack else []
                )  # both families on a dual stack
                for i, ip in enumerate(shown):
                    parts.append(f'<text class="addr" x="{tx:.0f}" y="{ty + 11 * i:.0f}">{html.escape(ip)}</text>')
    parts.append('</g><g class="flow"></g><g class="hosts">')
    for h in topo.hosts:
        x, y = pos[h.name]
        kind = "box" if h.role == "router" else h.role
        parts.append(
            f'<g class="host {kind}" data-host="{html.escape(h.name)}">'
            f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8"/>'
            f'<text x="{x + BOX_W / 2}" y="{y + 18}" class="name">{html.escape(h.name)}</text>'
            f'<text x="{x + BOX_W / 2}" y="{y + 33}" class="role">{html.escape(h.role)}</text></g>'
        )
    parts.append("</g></svg>")
    centers = {h: [x + BOX_W / 2, y + BOX_H / 2] for h, (x, y) in pos.items()}
    return "".join(parts), {"centers": centers, "paths": paths}


def _flow(r: Result, topo: Topology) -> dict[str, Any] | None:
    """The data connection worth drawing: where the client sent it, and where it stopped."""
    ev = r.verdict.evidence
    if not ev.data_connections:
        return None
    d = ev.data_connections[-1]
    target = str(d.target) if d.target else d.listen
    if not target:
        return None
    ip = target.rsplit(":", 1)[0].strip("[]")
    owner = topo.owner_of(ip)
    active = d.mode in ("port", "eprt")
    end = topo.server if active else (owner or topo.server)
    lb = ev.balancer
    moved = [x for x in lb.data if x.backend != lb.control] if lb else []
    if moved and moved[0].backend in topo.servers:
        end = moved[0].backend  # the balancer sent it on to this server
        target += f" → {end}"
    stopped = None
    if r.verdict.outcome != "pass":
        boxes = list(ev.firewall_rejected) + list(ev.firewall_dropped_invalid)
        stopped = boxes[0] if boxes and not moved else end
    failed = d.result if d.result not in (None, "ok") else f"failed at {r.verdict.stage}"
    label = f"{d.cmd or 'data'} {'from the server to' if active else 'to'} {target}: " + (
        "ok" if r.verdict.outcome == "pass" else str(failed)
    )
    return {"to": end, "reverse": active, "ok": r.verdict.outcome == "pass", "stopped": stopped, "label": label}


SHOWN = (
    "transcript",
    "control",
    "tampered_lines",
    "failure",
    "firewall_rejected",
    "firewall_dropped_invalid",
    "helper_expectations",
    "server_log",
    "balancer",
    "security_weakened",
    "middlebox_log",
    "unfiltered",
    "sent_instead",
    "findings",
)


def _evidence(ev: Evidence) -> dict[str, Any]:
    """What the page shows of a verdict's evidence (data connections as the page draws them)."""
    out = {k: v for k, v in codec.encode(ev, Evidence).items() if k in SHOWN}
    out["data_connections"] = [
        {
            "cmd": d.cmd,
            "mode": d.mode,
            "reply": d.reply,
            "sent": d.sent,
            "listen": d.listen,
            "target": str(d.target) if d.target else None,
            "connect": d.result,
            "tls": d.tls,
            "session_reused": d.session_reused,
            "late_reply": d.late_reply,
        }
        for d in ev.data_connections
    ]
    return out


def _case(
    r: Result, topo: Topology, rulesets: dict[str, Any], captures: dict[str, list[str]], g: grid.Grid
) -> dict[str, Any]:
    v, c = r.verdict, r.case
    ev = v.evidence
    rules = []
    for box, fw in (r.rules or {}).items():
        key = "|".join(map(str, fw.signature()))
        if key not in rulesets:
            rulesets[key] = {"table": table(fw), "nft": nft(fw), "iptables": iptables(fw)}
        rules.append(
            {
                "box": box,
                "key": key,
                "verified": fw.proof.verified,
                "minimal": fw.proof.minimal,
                "error": fw.proof.error,
                "not_needed": [x.rule.why for x in fw.proof.not_needed],
            }
        )
    return {
        "id": c.id,
        "topology": c.lab,
        "server": c.server.impl,
        "client": c.client.impl,
        "tls": c.server.tls,
        "masq": "on" if c.server.masquerade else "off",
        "col": grid.column(r),
        "row": list(g.row_key(r)),
        "outcome": v.outcome,
        "stage": v.stage,
        "check": v.check,
        "diagnosis": v.diagnosis,
        "tampered": ev.tampered,
        "fallback": bool(ev.fell_back_to_passive),
        "unfiltered": bool(ev.unfiltered),
        "flaky": r.flaky_said() if r.flaky else "",
        "runs": [{"said": x.said(), "diagnosis": x.diagnosis} for x in r.runs],
        "evidence": _evidence(ev),
        "rules": rules,
        "flow": _flow(r, topo),
        "captures": captures.get(c.id, []),
        "duration": round(r.duration_s, 3),
    }


EMPTY = Topology(hosts=(), links=(), client="", servers=("",), server_public="")


def _rebuilt(r: Result) -> Topology | None:
    """The topology of a result read back from a file, if this checkout still has it."""
    try:
        return topologies.build(r.case.topology, r.case.server, r.case.net)
    except KeyError:
        return None


def render(results: list[Result], meta: dict[str, Any], captures: dict[str, list[str]] | None = None) -> str:
    captures = captures or {}
    topos: dict[str, Topology] = {}
    for r in results:
        if r.case.lab not in topos:
            built = r.topology or _rebuilt(r)
            if built is not None:
                topos[r.case.lab] = built
    svgs, geo = {}, {}
    for name, topo in topos.items():
        svgs[name], geo[name] = topology_svg(topo)
    rulesets: dict[str, Any] = {}
    captures = {**{r.case.id: r.captures for r in results if r.captures}, **captures}
    g = grid.build(results)
    cases = [_case(r, topos.get(r.case.lab) or EMPTY, rulesets, captures, g) for r in results]
    variants = passing_variants(results)
    for c in cases:
        c["fixed_by"] = [dataclasses.asdict(v) for v in variants.get(c["id"], [])]
    data = {
        "meta": meta,
        "cases": cases,
        "row_axes": g.headers,
        "rulesets": rulesets,
        "geo": geo,
        "glance": [dataclasses.asdict(x) for x in topology_glance(results)],
        "pictures": {n: (t.picture or "").strip() for n, t in topos.items()},
    }
    page = (Path(__file__).with_name("index.html.in")).read_text()
    blob = json.dumps(data).replace("</", "<\\/")
    return page.replace("/*DATA*/", blob).replace(
        "<!--SVGS-->", "".join(f'<template id="svg-{html.escape(n)}">{s}</template>' for n, s in svgs.items())
    )


def write(
    path: Path, results: list[Result], meta: dict[str, Any], captures: dict[str, list[str]] | None = None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results, meta, captures))
