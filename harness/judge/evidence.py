"""The evidence a verdict rests on, as typed values: the control lines as each end sent and
received them, the data connections, the placed failure and the middleboxes' facts, gathered
once per Observation (`gather`); then what the deciding check found, each in a field of its
own. Also the small wording helpers the checks share."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Literal

import servers
from harness.build import proxies
from harness.core.family import lab_public, line_kind, peer_address
from harness.core.outcome import Stage
from harness.core.tls import CONTROL_PORTS
from harness.judge.findings import Finding
from harness.judge.stages import place
from harness.observe.flows import Flow
from harness.observe.middlebox_view import MiddleboxView
from harness.observe.observation import Connection, ControlLine, Observation

Direction = Literal["client->server", "server->client"]


@dataclass(frozen=True)
class ControlPair:
    """An address-carrying line (PORT, EPRT, 227, 229) as one end sent it and the other got it."""

    direction: Direction
    sent: str
    received: str

    @property
    def tampered(self) -> bool:
        return self.sent != self.received


@dataclass(frozen=True)
class PlacedFailure:
    """Where the session stopped (harness/judge/stages.py) and what the client said."""

    step: str
    stage: Stage
    kind: str
    error: str
    reply: str | None = None  # the server's reply that ended it, if any
    late_reply: str | None = None  # a reply read from the control channel after a failure

    @property
    def said(self) -> str:
        """What the server said about it, if anything."""
        return self.reply or self.late_reply or ""


@dataclass(frozen=True)
class BalancedConnection:
    via: str  # the balancer
    port: int  # the data port the client dialled
    backend: str  # the server it was sent to
    state: str | None = None  # HAProxy's termination state ("SC": the server refused)
    log: str | None = None  # the proxy's log line
    chain: str | None = None  # the endpoint chain whose DNAT sent it there (kube-proxy's KUBE-SEP-...), traced
    control: str | None = None  # a NAT balancer: the backend of the control connection opened last before it
    control_chain: str | None = None  # and the endpoint chain that sent that one there


@dataclass(frozen=True)
class Balancer:
    """Which backend got the control connection and which got each data connection."""

    control: str | None
    data: tuple[BalancedConnection, ...] = ()
    addresses: dict[str, str] = field(default_factory=dict)  # backend -> its address
    affinity: bool = False  # the traced balancing chains checked a client-affinity list first (-m recent)

    def misplaced(self) -> list[BalancedConnection]:
        """Data connections sent to another backend than their session's control connection
        (each against its own: curl opens one per transfer)."""
        return [c for c in self.data if (c.control or self.control) and c.backend != (c.control or self.control)]


@dataclass(frozen=True)
class Ccc:
    reply: str
    control_encrypted: bool


@dataclass(frozen=True)
class Resumption:
    client: tuple[str, ...]  # per data connection: resumed, not resumed, unknown
    server_resumed: tuple[str, ...] = ()
    server_refused: tuple[str, ...] = ()


@dataclass(frozen=True)
class Truncation:
    cmd: str | None
    close_notify_sent: bool | None
    close_notify_received: bool | None
    sent_bytes: int | None
    arrived_bytes: int | None
    server_logged: tuple[str, ...] = ()


@dataclass(frozen=True)
class Cleartext:
    """What the server wrote in clear where a TLS record belonged, and on which connection."""

    connection: str  # control, or data
    after: str | None  # control: the last line the client sent; data: the command it served
    text: str  # the bytes, printable (\r, \n, \xNN escaped)
    lines: tuple[str, ...] = ()  # the FTP reply lines among them


@dataclass(frozen=True)
class Unfiltered:
    """A firewall none of whose tables sees the case's address family."""

    tables: tuple[str, ...]
    conntrack: tuple[str, ...] = ()


@dataclass(frozen=True)
class Evidence:
    # gathered from every observation
    transcript: tuple[str, ...] = ()  # the client's control lines, "> " sent and "< " received
    control: tuple[ControlPair, ...] = ()  # the first address-carrying lines, in time order
    tampered_lines: tuple[ControlPair, ...] = ()  # those a middlebox rewrote
    data_connections: tuple[Connection, ...] = ()
    failure: PlacedFailure | None = None
    helper_expectations: dict[str, tuple[str, ...]] = field(default_factory=dict)
    firewall_rejected: dict[str, int] = field(default_factory=dict)
    firewall_dropped_invalid: dict[str, int] = field(default_factory=dict)
    server_log: tuple[str, ...] = ()
    middlebox_log: dict[str, tuple[str, ...]] = field(default_factory=dict)
    balancer: Balancer | None = None
    # what the deciding check (or a later note) found
    fell_back_to_passive: int = 0  # active mode refused, the client went passive and passed
    security_weakened: str | None = None
    unfiltered: dict[str, Unfiltered] = field(default_factory=dict)
    sent_instead: str | None = None  # the extended command a client sent instead of PASV/PORT
    ccc: Ccc | None = None
    resumption: Resumption | None = None
    truncated: Truncation | None = None
    cleartext: Cleartext | None = None  # the server's words in clear where TLS belonged
    session_reuse_required: bool = False
    server_log_fallback: str | None = None
    untranslated: str | None = None  # a connection that ended at the firewall itself
    conntrack_destroyed: dict[str, tuple[str, ...]] = field(default_factory=dict)
    firewall_dropped_forgotten: dict[str, int] = field(default_factory=dict)
    trace_dropped_icmp: dict[str, tuple[str, ...]] = field(default_factory=dict)
    firewall_dropped_icmp: dict[str, int] = field(default_factory=dict)
    trace: tuple[str, ...] = ()  # where the connection stopped, hook by hook
    untraced: bool = False  # the lab had no trace: the diagnosis rests on heuristics
    conntrack_stats: dict[str, dict[str, int]] = field(default_factory=dict)
    helper_dropped: tuple[str, ...] = ()  # what a conntrack helper said it dropped
    stopped_early: str | None = None  # the drop that ended the client's wait
    findings: tuple[Finding, ...] = ()
    traceback: tuple[str, ...] = ()  # a harness error's last frames

    @property
    def tampered(self) -> bool:
        return bool(self.tampered_lines)


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
    return max(by_peer.values(), key=lambda es: sum(1 for e in es if e.dir == "recv" and e.line in sent_by_client))


def control_pairs(obs: Observation) -> list[ControlPair]:
    """Pair each address-carrying control line as one end sent it with the same line as the
    other end received it (the n-th PASV reply with the n-th, and so on). Comparing only
    these lines keeps the check exact whatever each server logs of the rest."""
    client = _transcript(obs)
    # Every session of this case, in order (some clients, like curl, open one per transfer).
    server = obs.server.lines
    sides: dict[Direction, tuple[list[ControlLine], list[ControlLine]]] = {
        "client->server": ([t for t in client if t.dir == "sent"], [e for e in server if e.dir == "recv"]),
        "server->client": ([e for e in server if e.dir == "sent"], [t for t in client if t.dir == "recv"]),
    }
    timed: list[tuple[float, ControlPair]] = []
    for direction, (tx, rx) in sides.items():
        for kind in ("PORT", "EPRT", "227", "229"):
            a = [x for x in tx if line_kind(x.line) == kind]
            b = [x for x in rx if line_kind(x.line) == kind]
            for x, y in zip(a, b):
                t = x.t if direction == "client->server" else y.t  # the client's clock
                timed.append((t or 0.0, ControlPair(direction, x.line, y.line)))
    timed.sort(key=lambda p: p[0])
    return [p for _, p in timed]


def balancer(obs: Observation) -> Balancer | None:
    """Which backend got the control connection and which got each data connection."""
    if len(obs.topology.servers) < 2:
        return None
    session = _session_lines(obs)
    control = session[0].host if session else None
    conns = []
    for box in obs.topology.middleboxes:  # a proxy's own log (HAProxy)
        view = obs.middleboxes.get(box.name)
        if not box.proxy or view is None:
            continue
        for line in view.log:
            r = proxies.get(box.proxy.kind).relayed(line)
            if r and r.dport not in CONTROL_PORTS:
                conns.append(BalancedConnection(box.name, r.dport, r.backend, r.state, line))
    affinity = False
    if not conns:  # a NAT balancer: conntrack shows where each connection was sent, in order
        for name, view in obs.middleboxes.items():
            last: tuple[str | None, str | None] = (None, None)  # the latest control connection's backend, chain
            for f in view.parsed_flows(name):
                if not f.dnat:
                    continue
                chain, sticky = _endpoint_chain(view, f)
                affinity = affinity or sticky
                backend = obs.topology.owner_of(f.real_dst) or f.real_dst
                if f.dport in CONTROL_PORTS or f.real_dport in CONTROL_PORTS:  # a NodePort renumbers it
                    last = (backend, chain)
                else:
                    conns.append(
                        BalancedConnection(name, f.dport, backend, chain=chain, control=last[0], control_chain=last[1])
                    )
    addr = {h: obs.topology.address_of(h) for h in obs.topology.servers}
    return Balancer(control, tuple(conns), addr, affinity)


def _endpoint_chain(view: MiddleboxView, f: Flow) -> tuple[str | None, bool]:
    """The endpoint chain (kube-proxy's KUBE-SEP-...) the traced SYN of `f` was DNATed in, and
    whether a client-affinity list (-m recent) was checked on the way."""
    for p in view.trace:
        if p.syn and p.key == (f.src, f.sport, f.dst, f.dport):
            seps = [r.chain for r in p.rules if r.chain.startswith("KUBE-SEP-")]
            if seps:
                return seps[-1], any("recent" in r.text for r in p.rules)
    return None, False


def session_peer(obs: Observation) -> str | None:
    """The client address as the server saw it on the control connection."""
    lines = _session_lines(obs)
    return peer_address(lines[0].peer) if lines and lines[0].peer else None


def gather(obs: Observation) -> Evidence:
    rep = obs.client
    assert rep is not None
    pairs = control_pairs(obs)
    failure = None
    if not rep.ok and rep.failure:
        where = place(rep, obs.case.server.tls, obs.case.client.impl)
        late = [d.late_reply for d in rep.data if d.late_reply] if rep.failure.reply is None else []
        failure = PlacedFailure(
            where.step, where.stage, where.kind, rep.failure.error, rep.failure.reply, late[-1] if late else None
        )
    boxes, startup = obs.middleboxes, server_pattern(obs, "startup")
    return Evidence(
        transcript=tuple(("> " if t.dir == "sent" else "< ") + t.line for t in rep.transcript),
        control=tuple(pairs[:12]),
        tampered_lines=tuple(p for p in pairs if p.tampered),
        data_connections=tuple(rep.data),
        failure=failure,
        helper_expectations={k: v.expectations for k, v in boxes.items() if v.expectations},
        firewall_rejected={k: v.rejected for k, v in boxes.items() if v.rejected},
        firewall_dropped_invalid={k: v.invalid for k, v in boxes.items() if v.invalid},
        server_log=tuple([line for line in obs.server_log if not startup.search(line)][-8:]),
        middlebox_log={k: v.log[-6:] for k, v in boxes.items() if v.log}
        if any(b.proxy for b in obs.topology.middleboxes)
        else {},
        balancer=balancer(obs),
    )


# --- what the peers say, in their own words ------------------------------------


def server_pattern(obs: Observation, fact: str) -> re.Pattern[str]:
    """How the case's server words `fact`, as its adapter declares (ServerAdapter.says)."""
    return servers.get(obs.case.server.impl).says.get(fact, _NEVER)


def server_says(obs: Observation, fact: str, lines: list[str] | None = None) -> list[str]:
    """The lines (default: the server log) in which the case's server states `fact`."""
    pattern = server_pattern(obs, fact)
    return [line for line in (obs.server_log if lines is None else lines) if pattern.search(line)]


_NEVER = re.compile(r"(?!)")


# --- wording helpers ---------------------------------------------------------


def private(ip: str | None) -> bool:
    try:
        return ip is not None and ipaddress.ip_address(ip).is_private and not lab_public(ip)
    except ValueError:
        return False


def what(kind: str | None) -> str:
    return {
        "refused": "was refused",
        "timeout": "timed out",
        "unreachable": "found no route",
        "reset": "was reset",
        "eof": "was closed by the peer",
        "tls-verify": "failed certificate verification",
        "tls-error": "failed in the TLS handshake",
    }.get(kind or "", f"failed ({kind})")


def rejections(ev: Evidence) -> str:
    if not ev.firewall_rejected:
        return ""
    parts = [
        f"{box} rejected {n} packet{'s' if n != 1 else ''} of new connections"
        for box, n in ev.firewall_rejected.items()
    ]
    return " (" + "; ".join(parts) + ")"


def helper_boxes(obs: Observation) -> list[str]:
    return [b.name for b in obs.topology.middleboxes if b.ruleset and b.ruleset.helper]


def last_data(obs: Observation) -> Connection:
    """The last data connection the client negotiated (an empty one if none)."""
    data = obs.client.data if obs.client else []
    return data[-1] if data else NO_DATA


def rewrites(ev: Evidence) -> str:
    t = ev.tampered_lines
    if not t:
        return ""
    p = t[0]
    more = f" ({len(t)} lines rewritten in all)" if len(t) > 1 else ""
    return f"{p.direction} '{p.sent}' arrived as '{p.received}'{more}"
