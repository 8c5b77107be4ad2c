"""The evidence every check reads: lines as sent and as received, tampering, data
connections, the placed failure and middlebox facts, gathered once per Observation.
Also the small wording helpers the checks share."""
from __future__ import annotations

import ipaddress
import re
from typing import Any

import servers

from harness.core.family import lab_public, line_kind as _data_kind, peer_address
from harness.observe.flows import parse_relayed
from harness.observe.observation import Connection, ControlLine, Observation
from harness.judge.stages import place

Evidence = dict[str, Any]
NO_DATA = Connection(role="data")


def _transcript(obs: Observation) -> tuple[ControlLine, ...]:
    return obs.client.transcript if obs.client else ()


def _session_lines(obs: Observation) -> list[ControlLine]:
    """The server's lines for this case's control connection (one peer)."""
    sent_by_client = {t.line for t in _transcript(obs) if t.dir == "sent"}
    by_peer: dict[str | None, list[ControlLine]] = {}
    for e in obs.server.lines:
        by_peer.setdefault(e.peer, []).append(e)
    if not by_peer:
        return []
    return max(by_peer.values(),
               key=lambda es: sum(1 for e in es if e.dir == "recv" and e.line in sent_by_client))


def control_pairs(obs: Observation) -> list[dict[str, Any]]:
    """Pair each address-carrying control line as one end sent it with the same line as the
    other end received it (the n-th PASV reply with the n-th, and so on). Comparing only
    these lines keeps the check exact whatever each server logs of the rest."""
    client = _transcript(obs)
    # Every session of this case, in order (some clients, like curl, open one per transfer).
    server = obs.server.lines
    sides = {
        "client->server": ([t for t in client if t.dir == "sent"], [e for e in server if e.dir == "recv"]),
        "server->client": ([e for e in server if e.dir == "sent"], [t for t in client if t.dir == "recv"]),
    }
    pairs = []
    for direction, (tx, rx) in sides.items():
        for kind in ("PORT", "EPRT", "227", "229"):
            a = [x for x in tx if _data_kind(x.line) == kind]
            b = [x for x in rx if _data_kind(x.line) == kind]
            for x, y in zip(a, b):
                t = x.t if direction == "client->server" else y.t  # the client's clock
                pairs.append({"t": t or 0.0, "direction": direction, "sent": x.line,
                              "received": y.line, "tampered": x.line != y.line})
    pairs.sort(key=lambda p: p["t"])
    for p in pairs:
        del p["t"]
    return pairs


def balancer(obs: Observation) -> dict[str, Any] | None:
    """Which backend got the control connection and which got each data connection."""
    if len(obs.topology.servers) < 2:
        return None
    session = _session_lines(obs)
    control = session[0].host if session else None
    conns = []
    for box, view in obs.middleboxes.items():  # a proxy's log (HAProxy)
        for line in view.log:
            r = parse_relayed(line)
            if r and r.dport not in (21, 990):
                conns.append({"via": box, "port": r.dport, "backend": r.backend, "state": r.state,
                              "log": line})
    if not conns:  # a NAT balancer: conntrack shows where each connection was sent
        for box, view in obs.middleboxes.items():
            for f in view.parsed_flows(box):
                if f.dnat and f.dport not in (21, 990):
                    conns.append({"via": box, "port": f.dport,
                                  "backend": obs.topology.owner_of(f.real_dst) or f.real_dst})
    addr = {h: obs.topology.address_of(h) for h in obs.topology.servers}
    return {"control": control, "data": conns, "addresses": addr}


def session_peer(obs: Observation) -> str | None:
    """The client address as the server saw it on the control connection."""
    lines = _session_lines(obs)
    return peer_address(lines[0].peer) if lines and lines[0].peer else None


def connection_evidence(c: Connection) -> dict[str, Any]:
    """A data connection as reports show it (its result under "connect")."""
    keys = ("cmd", "mode", "sent", "listen", "reply", "advertised_ip", "advertised_port", "target",
            "control_peer", "result", "error", "local", "peer", "preliminary", "tls", "tls_version",
            "session_reused", "transfer", "done", "bytes", "final", "late_reply", "note")
    out = {}
    for k in keys:
        v = getattr(c, k)
        if v is not None or k == "advertised_ip" and c.advertised_port is not None:
            out["connect" if k == "result" else k] = str(v) if k == "target" else v
    return out


def gather(obs: Observation) -> Evidence:
    rep = obs.client
    assert rep is not None
    pairs = control_pairs(obs)
    tampered = [p for p in pairs if p["tampered"]]
    failure = None
    if not rep.ok and rep.failure:
        where = place(rep, obs.case.server.tls)
        failure = {"ok": False, "step": where.step, "stage": where.stage, "kind": where.kind,
                   "error": rep.failure.error, "reply": rep.failure.reply}
    boxes, startup = obs.middleboxes, server_pattern(obs, "startup")
    ev: Evidence = {
        "control": pairs[:12],
        "tampered": bool(tampered),
        "data_connections": [connection_evidence(c) for c in rep.data],
        "failure": failure,
        "helper_expectations": {k: list(v.expectations) for k, v in boxes.items() if v.expectations},
        "firewall_rejected": {k: v.rejected for k, v in boxes.items() if v.rejected},
        "server_log": [l for l in obs.server_log if not startup.search(l)][-8:],
        "transcript": [("> " if t.dir == "sent" else "< ") + t.line for t in rep.transcript],
    }
    if tampered:
        ev["tampered_lines"] = tampered
    lb = balancer(obs)
    if lb:
        ev["balancer"] = lb
    if any(v.invalid for v in boxes.values()):
        ev["firewall_dropped_invalid"] = {k: v.invalid for k, v in boxes.items() if v.invalid}
    if any(b.proxy for b in obs.topology.middleboxes):
        ev["middlebox_log"] = {k: list(v.log[-6:]) for k, v in boxes.items() if v.log}
    if failure and failure.get("reply") is None:
        late = [d.late_reply for d in rep.data if d.late_reply]
        if late:
            ev["failure"] = dict(failure, late_reply=late[-1])
    return ev


# --- what the peers say, in their own words ------------------------------------

def server_pattern(obs: Observation, fact: str) -> re.Pattern[str]:
    """How the case's server words `fact`, as its adapter declares (ServerAdapter.says)."""
    return servers.get(obs.case.server.impl).says.get(fact, _NEVER)


def server_says(obs: Observation, fact: str, lines: list[str] | None = None) -> list[str]:
    """The lines (default: the server log) in which the case's server states `fact`."""
    pattern = server_pattern(obs, fact)
    return [l for l in (obs.server_log if lines is None else lines) if pattern.search(l)]


_NEVER = re.compile(r"(?!)")


# --- wording helpers ---------------------------------------------------------

def private(ip: str | None) -> bool:
    try:
        return ip is not None and ipaddress.ip_address(ip).is_private and not lab_public(ip)
    except ValueError:
        return False


def what(kind: str | None) -> str:
    return {"refused": "was refused", "timeout": "timed out", "unreachable": "found no route",
            "reset": "was reset", "eof": "was closed by the peer",
            "tls-verify": "failed certificate verification",
            "tls-error": "failed in the TLS handshake"}.get(kind or "", f"failed ({kind})")


def rejections(obs: Observation, ev: Evidence) -> str:
    rej = ev["firewall_rejected"]
    if not rej:
        return ""
    parts = [f"{box} rejected {n} packet{'s' if n != 1 else ''} of new connections" for box, n in rej.items()]
    return " (" + "; ".join(parts) + ")"


def helper_boxes(obs: Observation) -> list[str]:
    return [b.name for b in obs.topology.middleboxes if b.ruleset and b.ruleset.helper]


def last_data(obs: Observation) -> Connection:
    """The last data connection the client negotiated (an empty one if none)."""
    data = obs.client.data if obs.client else []
    return data[-1] if data else NO_DATA


def rewrites(ev: Evidence) -> str:
    t = ev.get("tampered_lines") or []
    if not t:
        return ""
    p = t[0]
    more = f" ({len(t)} lines rewritten in all)" if len(t) > 1 else ""
    return f"{p['direction']} '{p['sent']}' arrived as '{p['received']}'{more}"
