"""Observation -> Verdict, by small named checks.

First the evidence is gathered from the observation (lines as sent and as received,
tampering, data connections, middlebox facts). Then each check in CHECKS looks at it in
turn; the first that recognises the failure writes the diagnosis from that evidence.
Every check can be tested alone on a recorded Observation, with no network.
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable, Optional

from . import family_checks
from .family import address_in as _port_address, lab_public, line_kind as _data_kind, same_address
from .family import peer_address as plain_peer
from .flows import flows as flows_of
from .model import Observation, PassiveRange, Verdict

Evidence = dict[str, Any]
Check = Callable[[Observation, Evidence], Optional[Verdict]]
CHECKS: list[tuple[str, Check]] = []

_DATA_CMDS = ("PASV", "EPSV", "PORT", "EPRT")


def check(name: str) -> Callable[[Check], Check]:
    def add(fn: Check) -> Check:
        CHECKS.append((name, fn))
        return fn
    return add


# --- evidence ----------------------------------------------------------------

def _session_lines(obs: Observation) -> list[dict[str, Any]]:
    """The server's lines for this case's control connection (one peer)."""
    sent_by_client = {t["line"] for t in obs.client.get("transcript", []) if t["dir"] == "sent"}
    by_peer: dict[str, list[dict[str, Any]]] = {}
    for e in obs.server_lines:
        by_peer.setdefault(e["peer"], []).append(e)
    if not by_peer:
        return []
    return max(by_peer.values(),
               key=lambda es: sum(1 for e in es if e["kind"] == "recv" and e["line"] in sent_by_client))


def control_pairs(obs: Observation) -> list[dict[str, Any]]:
    """Pair each address-carrying control line as one end sent it with the same line as the
    other end received it (the n-th PASV reply with the n-th, and so on). Comparing only
    these lines keeps the check exact whatever each server logs of the rest."""
    client = obs.client.get("transcript", [])
    # Every session of this case, in order (some clients, like curl, open one per transfer).
    server = sorted(obs.server_lines, key=lambda e: e["t"])
    sides = {
        "client->server": ([t for t in client if t["dir"] == "sent"],
                           [e for e in server if e["kind"] == "recv"]),
        "server->client": ([e for e in server if e["kind"] == "sent"],
                           [t for t in client if t["dir"] == "recv"]),
    }
    pairs = []
    for direction, (tx, rx) in sides.items():
        for kind in ("PORT", "EPRT", "227", "229"):
            a = [x for x in tx if _data_kind(x["line"]) == kind]
            b = [x for x in rx if _data_kind(x["line"]) == kind]
            for x, y in zip(a, b):
                t = x.get("t") if direction == "client->server" else y.get("t")
                pairs.append({"t": t or 0.0, "direction": direction, "sent": x["line"],
                              "received": y["line"], "tampered": x["line"] != y["line"]})
    pairs.sort(key=lambda p: p["t"])
    for p in pairs:
        del p["t"]
    return pairs


_HAPROXY = re.compile(r"(\S+):(\d+) -> (\S+):(\d+) => (\S+)/(\S+) \S+ \d+ (\S+)")


def balancer(obs: Observation) -> dict[str, Any] | None:
    """Which backend got the control connection and which got each data connection."""
    if len(obs.topology.servers) < 2:
        return None
    session = _session_lines(obs)
    control = session[0]["host"] if session and "host" in session[0] else None
    conns = []
    for box, lines in obs.middlebox_log.items():  # a proxy's log (HAProxy)
        for line in lines:
            m = _HAPROXY.search(line)
            if m and int(m.group(4)) not in (21, 990):
                conns.append({"via": box, "port": int(m.group(4)), "backend": m.group(6),
                              "state": m.group(7), "log": line})
    if not conns:  # a NAT balancer: conntrack shows where each connection was sent
        for box, lines in obs.flows.items():
            for f in flows_of(box, lines):
                if f.dnat and f.dport not in (21, 990):
                    conns.append({"via": box, "port": f.dport,
                                  "backend": obs.topology.owner_of(f.real_dst) or f.real_dst})
    addr = {h: obs.topology.address_of(h) for h in obs.topology.servers}
    return {"control": control, "data": conns, "addresses": addr}


def session_peer(obs: Observation) -> str | None:
    """The client address as the server saw it on the control connection."""
    lines = _session_lines(obs)
    return plain_peer(lines[0]["peer"]) if lines else None


def gather(obs: Observation) -> Evidence:
    pairs = control_pairs(obs)
    tampered = [p for p in pairs if p["tampered"]]
    result = obs.client.get("result", {})
    ev: Evidence = {
        "control": pairs[:12],
        "tampered": bool(tampered),
        "data_connections": obs.client.get("data", []),
        "failure": None if result.get("ok") else result,
        "helper_expectations": {k: v for k, v in obs.expectations.items() if v},
        "firewall_rejected": {k: v for k, v in obs.rejected.items() if v},
        "server_log": [l for l in obs.server_log if "listening on" not in l][-8:],
        "transcript": [("> " if t["dir"] == "sent" else "< ") + t["line"]
                       for t in obs.client.get("transcript", [])],
    }
    if tampered:
        ev["tampered_lines"] = tampered
    lb = balancer(obs)
    if lb:
        ev["balancer"] = lb
    if any(obs.invalid.values()):
        ev["firewall_dropped_invalid"] = {k: v for k, v in obs.invalid.items() if v}
    if obs.middlebox_log:
        ev["middlebox_log"] = {k: v[-6:] for k, v in obs.middlebox_log.items() if v}
    if ev["failure"] and ev["failure"].get("reply") is None:
        late = [d.get("late_reply") for d in ev["data_connections"] if d.get("late_reply")]
        if late:
            ev["failure"] = dict(ev["failure"], late_reply=late[-1])
    return ev


# --- wording helpers ---------------------------------------------------------

def _private(ip: str | None) -> bool:
    try:
        return ip is not None and ipaddress.ip_address(ip).is_private and not lab_public(ip)
    except ValueError:
        return False


def _what(kind: str | None) -> str:
    return {"refused": "was refused", "timeout": "timed out", "unreachable": "found no route",
            "reset": "was reset", "eof": "was closed by the peer",
            "tls-verify": "failed certificate verification",
            "tls-error": "failed in the TLS handshake"}.get(kind or "", f"failed ({kind})")


def _rejections(obs: Observation, ev: Evidence) -> str:
    rej = ev["firewall_rejected"]
    if not rej:
        return ""
    parts = [f"{box} rejected {n} packet{'s' if n != 1 else ''} of new connections" for box, n in rej.items()]
    return " (" + "; ".join(parts) + ")"


def _helper_boxes(obs: Observation) -> list[str]:
    return [b.name for b in obs.topology.middleboxes if b.ruleset and b.ruleset.helper]


def _failed_data(ev: Evidence) -> dict[str, Any]:
    return ev["data_connections"][-1] if ev["data_connections"] else {}


def _rewrites(ev: Evidence) -> str:
    t = ev.get("tampered_lines") or []
    if not t:
        return ""
    p = t[0]
    more = f" ({len(t)} lines rewritten in all)" if len(t) > 1 else ""
    return f"{p['direction']} '{p['sent']}' arrived as '{p['received']}'{more}"


def _v(outcome: str, stage: str | None, text: str, ev: Evidence) -> Verdict:
    return Verdict(outcome, stage, text, ev)


# --- checks, in order ---------------------------------------------------------

@check("harness-error")
def harness_error(obs: Observation, ev: Evidence) -> Verdict | None:
    if obs.harness_error:
        return _v("error", None, f"harness error: {obs.harness_error}", ev)
    if "result" not in obs.client:
        return _v("error", None, "harness error: the client produced no report", ev)
    return None


check("not-expressible")(family_checks.substituted_mode)


@check("passed")
def passed(obs: Observation, ev: Evidence) -> Verdict | None:
    if not obs.client["result"].get("ok"):
        return None
    notes = ["Upload, listing, download and SHA-256 compare all passed."]
    if ev["tampered"]:
        boxes = ", ".join(_helper_boxes(obs)) or "a middlebox"
        notes.append(f"The FTP helper on {boxes} rewrote control lines in transit: {_rewrites(ev)}.")
        n = sum(1 for evs in ev["helper_expectations"].values() for e in evs if e.startswith("[NEW]"))
        if n:
            notes.append(f"It opened {n} data-connection pinhole{'s' if n > 1 else ''} "
                         "(conntrack expectations).")
    d = _failed_data(ev)
    if d.get("advertised_ip") and d.get("target", "").rsplit(":", 1)[0] != d["advertised_ip"]:
        notes.append(f"The server advertised {d['advertised_ip']}:{d['advertised_port']}, which the "
                     f"client ignored (policy 'control'): it connected to {d['target']} instead.")
    switched = _active_fallbacks(obs)
    if switched and obs.case.client.mode in ("port", "eprt"):
        ev["fell_back_to_passive"] = switched
        notes.append(f"Not in active mode, though: the server refused the {obs.case.client.mode.upper()} "
                     f"address and the client switched to passive mode ({switched} time(s)), which worked.")
    retried = _epsv_fallbacks(obs)
    if retried:
        lb = ev.get("balancer") or {}
        landed = [c["backend"] for c in lb.get("data", [])]
        notes.append(f"The client retried: {retried} time(s) its EPSV data connection failed and it "
                     "fell back to PASV, which worked"
                     + (f" (the balancer sent the data connections to {', '.join(landed)}; the control "
                        f"connection was on {lb.get('control')})" if landed else "") + ".")
    foreign = [l for l in obs.server_log if "foreign address" in l]
    if foreign:
        ev["security_weakened"] = ("the server accepts data connections from any address "
                                   "(permit_foreign_addresses)")
        notes.append(f"SECURITY WEAKENED: it passed only because the server accepts data connections "
                     f"from foreign addresses; the server logged '{foreign[-1].rstrip('.')}'. Anyone "
                     "who guesses the port can take the transfer.")
    notes += family_checks.unfiltered(obs, ev)
    lb = ev.get("balancer")
    if lb and lb["data"]:
        notes.append(f"Control and data all reached backend {lb['control']}." if all(
            c["backend"] == lb["control"] for c in lb["data"]) else "")
    return _v("pass", None, " ".join(n for n in notes if n), ev)


def _epsv_fallbacks(obs: Observation) -> int:
    sent = [t["line"].split()[0].upper() for t in obs.client.get("transcript", [])
            if t["dir"] == "sent" and t["line"]]
    return sum(1 for a, b in zip(sent, sent[1:]) if a == "EPSV" and b == "PASV")


def _active_fallbacks(obs: Observation) -> int:
    """How often the client, refused an active-mode address, switched to passive mode."""
    t = [x for x in obs.client.get("transcript", []) if x["line"]]
    n = 0
    for i, x in enumerate(t[:-2]):
        if x["dir"] == "sent" and x["line"][:4].upper() in ("PORT", "EPRT") and t[i + 1]["dir"] == "recv" \
                and t[i + 1]["line"][:1] in "45" and any(y["dir"] == "sent" and y["line"][:4].upper() in
                                                          ("PASV", "EPSV") for y in t[i + 2:i + 40]):
            n += 1
    return n


def _seen_from(obs: Observation) -> str | None:
    """The client's address as the server sees it on the control connection: from the
    server's own lines, else from a middlebox that translated the control connection."""
    peer = session_peer(obs)
    if peer:
        return peer
    for box, lines in obs.flows.items():
        for f in flows_of(box, lines):
            if f.real_dport in (21, 990) and f.snat:
                return f.reply_dst
    return None


def _data_source(obs: Observation, control_from: str, reply: str) -> str | None:
    """Where a refused passive data connection came from, if not from the control's address:
    the server's own words, else a middlebox that gave the data connection another source."""
    m = re.search(r"foreign address ([\da-fA-F.:]+):(\d+)", reply)
    if m:
        return m.group(1)
    for box, lines in obs.flows.items():
        for f in flows_of(box, lines):
            if f.snat and f.real_dport not in (21, 990) and f.reply_dst != control_from:
                return f.reply_dst
    return None


check("ipv4-only-line")(family_checks.ipv4_only_line)
check("address-respelled")(family_checks.respelled_address)
check("family-mismatch")(family_checks.family_mismatch)


@check("foreign-address")
def foreign_address(obs: Observation, ev: Evidence) -> Verdict | None:
    """The data connection's address is not the control connection's, and the server refused.
    Decided from addresses (announced, seen, translated), not from any server's wording."""
    f, d = ev["failure"], _failed_data(ev)
    peer = _seen_from(obs)
    if not peer or f["stage"] not in ("data-setup", "data-connect", "data-tls", "transfer"):
        return None
    if d.get("mode") in ("port", "eprt") and d.get("sent"):
        received = next((p["received"] for p in ev["control"] if p["sent"] == d["sent"]), d["sent"])
        announced, reply = _port_address(received), d.get("reply") or ""
        if not announced or same_address(announced, peer) or reply[:1] not in "45":
            return None
        why = ("the FTP helper cannot read it because the control channel is TLS-encrypted"
               if obs.case.server.tls != "none" and _helper_boxes(obs) else
               "no FTP helper on the path rewrote it" if not _helper_boxes(obs) else
               "the helper did not rewrite it")
        if any(b.proxy for b in obs.topology.middleboxes):
            why = "a TCP proxy in between hides the client's address from the server"
        text = (f"The client announced '{received}' (its address {announced}), but the server sees "
                f"its control connection coming from {peer}, and refused to connect to another "
                f"address: '{reply}'. {why[0].upper() + why[1:]}.")
        return _v("fail", f["stage"], text, ev)
    said = f.get("reply") or f.get("late_reply") or d.get("late_reply") or ""
    logged = [line for line in obs.server_log if "foreign address" in line]
    data_from = _data_source(obs, peer, said or (logged[-1] if logged else ""))
    if not data_from or data_from == peer:
        return None
    reason = said or (logged[-1] if logged else f["error"])
    text = (f"IP addresses do not match: the data connection reached the server from {data_from}, "
            f"but the control connection comes from {peer}, so the server refused it "
            f"('{reason}').{_snat_story(obs, peer, data_from)}")
    # The server refused the data connection itself; whether the client noticed during its TLS
    # handshake or in the reply to STOR is a race, so the stage is data-connect.
    return _v("fail", "data-connect", text, ev)


def _snat_story(obs: Observation, control_from: str, data_from: str) -> str:
    """Which firewall gave the two connections different source addresses, if one did."""
    for box, lines in obs.flows.items():
        srcs = {f.reply_dst for f in flows_of(box, lines) if f.snat}
        if {control_from, data_from} <= srcs:
            return (f" {box} source-NATs each new connection to one of its addresses: the control "
                    f"connection left as {control_from} and the data connection as {data_from}.")
    return ""


@check("asymmetric-route")
def asymmetric_route(obs: Observation, ev: Evidence) -> Verdict | None:
    f, d = ev["failure"], _failed_data(ev)
    dropped = ev.get("firewall_dropped_invalid") or {}
    if f["stage"] == "connect" and f.get("kind") == "timeout" and dropped:
        via = [box for box, lines in obs.flows.items()
               if any(x.dport in (21, 990) for x in flows_of(box, lines))]
        text = (f"The control connection to {obs.topology.server_public}:{obs.case.server.control_port} "
                f"timed out. It came in through {', '.join(via) or 'one firewall'}, but the server "
                f"answered by another route: "
                f"{', '.join(f'{b} dropped {n} packet(s) of a connection it never saw' for b, n in dropped.items())}. "
                f"Both directions of a connection must cross the same stateful firewall: route "
                f"replies back out of the interface they arrived on (source-based routing).")
        return _v("fail", "connect", text, ev)
    if f["stage"] != "data-connect" or d.get("connect") != "timeout" or not dropped:
        return None
    entered = [box for box, lines in obs.flows.items()
               if any(x.dport == d.get("advertised_port") for x in flows_of(box, lines))]
    control_via = [box for box, lines in obs.flows.items()
                   if any(x.dport in (21, 990) for x in flows_of(box, lines))]
    adv = d.get("advertised_ip") or d["target"].rsplit(":", 1)[0]
    owner = obs.topology.owner_of(adv)
    text = (f"The server advertised {adv}:{d.get('advertised_port')}"
            f"{f' ({owner}' + chr(39) + 's public address)' if owner else ''}, but the control connection came in "
            f"through {', '.join(control_via) or 'another firewall'}. The data connection entered "
            f"through {', '.join(entered) or '?'}, and the server's answer left by its other "
            f"route: {', '.join(f'{b} dropped {n} packet(s) of a connection it never saw' for b, n in dropped.items())}. "
            f"The client's connection to {d['target']} timed out. Both directions of a connection "
            f"must cross the same stateful firewall: advertise the address of the interface the "
            f"control connection came in on, or route replies back out of the interface they "
            f"arrived on.")
    return _v("fail", "data-connect", text, ev)


@check("advertised-address-unreachable")
def advertised_unreachable(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    d = _failed_data(ev)
    if f["stage"] != "data-connect" or d.get("connect") in (None, "ok") or not d.get("advertised_ip"):
        return None
    ip, port = d["advertised_ip"], d["advertised_port"]
    if d["target"] != f"{ip}:{port}" or ip == d.get("control_peer"):
        return None
    sent = next((p["sent"] for p in ev["control"] if p["received"] == d.get("reply")), d.get("reply"))
    owner = obs.topology.owner_of(ip)
    whose = f"the private address of {owner}" if owner and _private(ip) else \
        "a private address" if _private(ip) else "an address other than the control connection's"
    text = (f"The server advertised {ip}:{port} in its PASV reply ('{sent}'), {whose}; the client "
            f"trusted it and its connection {_what(d['connect'])}{_rejections(obs, ev)}. "
            f"The control connection goes to {d['control_peer']}, so that is the only address "
            f"reachable from the client's side.")
    if obs.case.server.tls != "none" and _helper_boxes(obs):
        text += " The FTP helper could not rewrite the reply: the control channel is encrypted."
    return _v("fail", "data-connect", text, ev)


def _forwarded(obs: Observation) -> dict[str, PassiveRange | None]:
    """The passive range each firewall on the path opens (None: no passive range at all)."""
    out: dict[str, PassiveRange | None] = {}
    for box in obs.topology.middleboxes:
        if box.ruleset and box.ruleset.forwards is not None:
            out[box.name] = PassiveRange.parse(box.ruleset.forwards) if box.ruleset.forwards else None
    return out


@check("balanced-to-another-backend")
def balanced_apart(obs: Observation, ev: Evidence) -> Verdict | None:
    lb, f = ev.get("balancer"), ev["failure"]
    if not lb or not lb["data"] or f["stage"] not in ("data-connect", "data-tls", "transfer"):
        return None
    other = [c for c in lb["data"] if c["backend"] != lb["control"]]
    if not other or not lb["control"]:
        return None
    c, addr = other[0], lb["addresses"]
    refused = {"SC": " (HAProxy log: the server refused the connection, state SC)",
               "CD": " (HAProxy log: the client side closed it, state CD)"}.get(c.get("state", ""), "")
    text = (f"The control connection landed on backend {lb['control']} ({addr.get(lb['control'])}); "
            f"the data connection to {obs.topology.server_public}:{c['port']} was balanced to "
            f"{c['backend']} ({addr.get(c['backend'], '?')}), which has no session waiting on that "
            f"port{refused}. The client saw: {f['error']}. A load balancer must keep one client's "
            f"control and data connections on the same server (persistence by source address).")
    return _v("fail", f["stage"], text, ev)


@check("passive-port-outside-range")
def passive_port_outside_range(obs: Observation, ev: Evidence) -> Verdict | None:
    f, d = ev["failure"], _failed_data(ev)
    port, rng = d.get("advertised_port"), obs.case.server.passive
    if f["stage"] != "data-connect" or port is None or port in rng or d.get("connect") == "ok":
        return None
    busy = obs.case.client.busy
    why = (f" All {rng.last - rng.first + 1} ports of that range were taken ({busy} other "
           f"session{'s' if busy != 1 else ''} held passive ports), so the server fell back to a "
           "port outside it." if busy else "")
    fallback = [l for l in obs.server_log if "random" in l.lower() or "free passive port" in l.lower()]
    if fallback:
        ev["server_log_fallback"] = fallback[-1]
        why += f" The server logged: '{fallback[-1].rstrip('.')}'."
    text = (f"The server advertised port {port}, outside its configured passive range {rng}.{why} "
            f"No firewall opens port {port}: the client's connection to {d['target']} "
            f"{_what(d['connect'])}{_rejections(obs, ev)}.")
    return _v("fail", "data-connect", text, ev)


@check("passive-range-not-forwarded")
def passive_range_not_forwarded(obs: Observation, ev: Evidence) -> Verdict | None:
    f, d = ev["failure"], _failed_data(ev)
    port = d.get("advertised_port")
    closed = {box: r for box, r in _forwarded(obs).items() if port is not None and (r is None or port not in r)}
    if f["stage"] != "data-connect" or not closed or d.get("connect") == "ok":
        return None
    if any(r is None for r in closed.values()):
        where = ", ".join(f"{box} forwards no passive ports at all" for box, r in closed.items() if r is None)
        text = (f"The server advertised port {port} from its passive range {obs.case.server.passive}, "
                f"but {where} (only the control port). The client's connection to {d['target']} "
                f"{_what(d['connect'])}{_rejections(obs, ev)}. Forward the server's passive range "
                f"{obs.case.server.passive} to the server, and allow it.")
        return _v("fail", "data-connect", text, ev)
    where = ", ".join(f"{box} forwards/allows only {r}" for box, r in closed.items())
    text = (f"The server advertised port {port} from its passive range {obs.case.server.passive}, "
            f"but {where}: the ranges differ. The client's connection to {d['target']} "
            f"{_what(d['connect'])}{_rejections(obs, ev)}. Make the firewall's range and the "
            f"server's passive range the same.")
    return _v("fail", "data-connect", text, ev)


@check("data-port-unreachable")
def data_port_unreachable(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    d = _failed_data(ev)
    if f["stage"] != "data-connect" or d.get("connect") in (None, "ok") or "target" not in d:
        return None
    src = "EPSV" if d["mode"] == "epsv" else "PASV"
    text = (f"The client connected to {d['target']} (port from the {src} reply) and the connection "
            f"{_what(d['connect'])}{_rejections(obs, ev)}: the passive port is not reachable "
            f"through the path to the server.")
    return _v("fail", "data-connect", text, ev)


@check("active-connect-failed")
def active_connect_failed(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    d = _failed_data(ev)
    reply = f.get("reply") or f.get("late_reply") or ""
    if d.get("mode") not in ("port", "eprt") or f["stage"] != "data-connect" and reply[:3] != "425":
        return None
    text = (f"The server could not open the active-mode data connection to "
            f"{d.get('listen', 'the client')}: {reply or f['error']}{_rejections(obs, ev)}.")
    return _v("fail", "data-connect", text, ev)


@check("client-known-bug")
def client_known_bug(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    if "inet_ntop() failed with errno 97" not in (f.get("error") or ""):
        return None
    text = (f"curl 7.88 cannot do active-mode FTPS: '{f['error']}'. This is a regression in curl "
            f"itself (curl issue 10666, fixed in curl 8.0.0), not the network; use passive mode "
            f"or a newer curl.")
    return _v("fail", "data-tls" if (f.get("reply") or "").startswith("522") else f["stage"], text, ev)


@check("session-reuse-required")
def session_reuse_required(obs: Observation, ev: Evidence) -> Verdict | None:
    f, d = ev["failure"], _failed_data(ev)
    said = f.get("reply") or f.get("late_reply") or d.get("late_reply") or ""
    logs = [l for l in obs.server_log if "reuse" in l.lower() and "session" in l.lower()]
    if "reuse" not in said.lower() and not logs:
        return None
    if f["stage"] not in ("data-tls", "transfer", "data-connect"):
        return None
    reused = d.get("session_reused")
    text = (f"The server requires each data connection's TLS session to resume the control "
            f"connection's session, and this client did not resume it"
            f"{' (session_reused: false on the data connection)' if reused is False else ''}. "
            f"The server said: '{said or logs[-1]}'. Use a client that reuses TLS sessions "
            f"(here: curl, lftp, ftplib with session reuse) or turn the requirement off "
            f"on the server (vsftpd require_ssl_reuse=NO, ProFTPD TLSOptions "
            f"NoSessionReuseRequired).")
    ev["session_reuse_required"] = True
    return _v("fail", "data-tls", text, ev)


@check("tls-failed")
def tls_failed(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    if f["stage"] not in ("tls-handshake", "data-tls"):
        return None
    where = "control" if f["stage"] == "tls-handshake" else "data"
    said = f.get("reply") or f.get("late_reply")
    text = f"The TLS handshake on the {where} connection failed: {f['error']}."
    if said:
        text += f" The server said: '{said}'."
    return _v("fail", f["stage"], text, ev)


@check("control-connect-failed")
def control_connect_failed(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    if f["step"] != "connect":
        return None
    host, port = obs.topology.server_public, obs.case.server.control_port
    text = (f"The control connection to {host}:{port} {_what(f.get('kind'))}{_rejections(obs, ev)}: "
            f"nothing reachable listens on the FTP{'S' if port == 990 else ''} control port along "
            f"this path ({f['error']}).")
    return _v("fail", "connect", text, ev)


@check("other-failure")
def other_failure(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    said = f.get("reply") or f.get("late_reply")
    text = f"Failed at {f['step']}: {f['error']}{_rejections(obs, ev)}."
    if said and said not in f["error"]:
        text += f" The server said: '{said}'."
    return _v("fail", f["stage"], text, ev)


def judge(obs: Observation) -> Verdict:
    ev = gather(obs) if "result" in obs.client else {}
    for name, fn in CHECKS:
        v = fn(obs, ev)
        if v is not None:
            v.check = name
            return v
    raise AssertionError("other-failure always decides")
