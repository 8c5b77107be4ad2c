"""The path itself breaks the session (docs/path.md): a firewall that forgot the idle control
connection (conntrack destroyed it while still ESTABLISHED, and its drop counter counted), a
PMTU black hole (its ICMP drop counter counted while full-size data stalled), a missing
hairpin NAT or a translated passive port (conntrack: the connection ended at the firewall
itself, untranslated)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace

from harness.judge.checks import check
from harness.judge.evidence import Evidence, last_data
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation
from harness.observe.trace import TracePath, TraceRule

# conntrack -E prints: [DESTROY] tcp 6 ESTABLISHED src=A dst=B sport=P dport=21 ... (then the reply's
# direction). Destroyed while ESTABLISHED: it expired; a closed connection goes in CLOSE or TIME_WAIT.
_EXPIRED = re.compile(r"\bESTABLISHED\b.*?\bdport=(\d+)\b")
_SPORT = re.compile(r"\bsport=(\d+)\b")


def _counted(obs: Observation, name: str) -> dict[str, int]:
    return {box: dict(v.counters).get(name, 0) for box, v in obs.middleboxes.items() if dict(v.counters).get(name, 0)}


def _control_destroyed(obs: Observation) -> dict[str, list[str]]:
    """Per box, the DESTROY events of the case's control connection(s) that expired: to the
    control port, from the client's own source port where it reported one."""
    port = str(obs.case.server.control_port)
    ours = {
        c.local.rpartition(":")[2]
        for c in (obs.client.connections if obs.client else ())
        if c.role == "control" and c.local
    }

    def own(line: str) -> bool:
        m = _SPORT.search(line)
        return not ours or (m is not None and m.group(1) in ours)

    out = {
        box: [e for e in v.destroyed if (m := _EXPIRED.search(e)) and m.group(1) == port and own(e)]
        for box, v in obs.middleboxes.items()
    }
    return {box: lines for box, lines in out.items() if lines}


@check("control-idle-timeout", 230)
def control_idle_timeout(obs: Observation, ev: Evidence) -> Verdict | None:
    """A firewall forgot the idle control connection during a long transfer."""
    f = ev.failure
    gone, dropped = _control_destroyed(obs), _counted(obs, "forgotten")
    if f is None or f.stage != "completion" or not gone:
        return None
    box, lines = next(iter(gone.items()))
    ev = replace(
        ev, conntrack_destroyed={b: tuple(x[-2:]) for b, x in gone.items()}, firewall_dropped_forgotten=dropped
    )
    d = last_data(obs)
    named = d.cmd and d.cmd not in ("PASV", "EPSV", "PORT", "EPRT")  # CLI clients name the negotiation
    what_moved = f"the {d.cmd} data connection finished" if named else "the data connection finished"
    dropped_text = (
        f" {box} then dropped {dropped[box]} packet{'s' if dropped[box] != 1 else ''} of it "
        "as mid-stream packets of a connection it no longer knew (counter 'forgotten')."
        if box in dropped
        else ""
    )
    text = (
        f"The control connection sat idle while {what_moved}, and {box} forgot it: conntrack "
        f"destroyed its entry, still ESTABLISHED, during the transfer ('{lines[-1][:160]}')."
        f"{dropped_text} The "
        f"reply that ends the transfer never reached the client ({f.kind}). Raise the "
        f"firewall's idle timeout for the control port above the longest transfer, or have "
        f"the client send keepalives on the control connection."
    )
    return Verdict("fail", "completion", text, ev)


ICMP = ("icmp", "ipv6-icmp", "icmpv6")


def _icmp_dropped(obs: Observation) -> dict[str, list[TracePath]]:
    """Per box, the traced ICMP packets a rule dropped (harness/observe/trace.py)."""
    out = {
        box: [p for p in v.trace if p.proto in ICMP and p.verdict == "drop" and p.by is not None]
        for box, v in obs.middleboxes.items()
    }
    return {box: paths for box, paths in out.items() if paths}


def _dropped_by(p: TracePath) -> TraceRule:
    """The rule that dropped a path of _icmp_dropped (it keeps only those a rule dropped)."""
    assert p.by is not None
    return p.by


@check("pmtu-black-hole", 220)
def pmtu_black_hole(obs: Observation, ev: Evidence) -> Verdict | None:
    """Full-size packets stalled and a firewall dropped the ICMP that would have said why."""
    f = ev.failure
    traced, dropped = _icmp_dropped(obs), _counted(obs, "icmp_dropped")
    if f is None or f.stage not in ("transfer", "completion", "data-tls", "tls-handshake") or not (traced or dropped):
        return None
    box = next(iter(traced or dropped))
    n = len(traced[box]) if box in traced else dropped[box]
    icmp = "ICMPv6 'packet too big'" if obs.topology.family == "ipv6" else "ICMP 'fragmentation needed'"
    if box in traced:
        p = traced[box][-1]
        ev = replace(
            ev,
            trace_dropped_icmp={
                b: tuple(f"{x.hook}: {x.src} -> {x.dst} dropped by {_dropped_by(x).quote()}" for x in ps[-2:])
                for b, ps in traced.items()
            },
        )
        by = f"by {_dropped_by(p).quote()} (trace, {p.hook} hook, {p.src} -> {p.dst})"
    else:
        ev = replace(ev, firewall_dropped_icmp=dropped)
        by = "(its counter 'icmp_dropped'; no trace in this run)"
    d = last_data(obs)
    stalled = f"the {d.cmd} data connection" if d.cmd and f.stage != "tls-handshake" else "the session"
    text = (
        f"Small packets passed (the control channel worked) but {stalled} stalled "
        f"({f.kind}): its full-size packets did not fit the path's MTU, and {box} dropped "
        f"{n} {icmp} message{'s' if n != 1 else ''} telling the sender to send smaller ones, "
        f"{by}. A path-MTU black hole: allow ICMP fragmentation-needed / packet-too-big "
        f"through the firewall, or clamp the TCP MSS to the path's MTU on it."
    )
    return Verdict("fail", f.stage, text, ev)


def _ended_at_box(obs: Observation, ip: str, port: int) -> tuple[str, str] | None:
    """(box, what shows it) of an untranslated connection to ip:port that ended at the box
    itself: its SYN's trace (prerouting without DNAT, then the input hook), else conntrack."""
    for box, v in obs.middleboxes.items():
        syns = [p for p in v.trace if p.syn and p.dst == ip and p.dport == port]
        pre = next((p for p in syns if p.hook == "prerouting"), None)
        if pre and any(p.hook == "input" for p in syns):
            how = pre.by.quote() if pre.by else "no rule"
            return box, (
                f"trace: {pre.src}:{pre.sport} -> {ip}:{port} left prerouting by {how}, "
                f"untranslated, and went to {box}'s input hook"
            )
    for box, v in obs.middleboxes.items():
        own = {i.split("/")[0] for _, i in obs.topology.interfaces(box)}
        for f in v.parsed_flows(box):
            if f.dst == ip and f.dport == port and not f.dnat and ip in own:
                return box, f"conntrack: {f.describe()}"
    return None


@check("hairpin-missing", 140)
def hairpin_missing(obs: Observation, ev: Evidence) -> Verdict | None:
    """An inside client dialled the public address and the firewall does not hairpin."""
    f, topo = ev.failure, obs.topology
    if f is None or f.stage not in ("connect", "data-connect") or not obs.client:
        return None
    client_ip, box = topo.address_of(topo.client), topo.owner_of(topo.server_public)
    ifaces = topo.addresses(box) if box else []
    public = {i for i, cidr in ifaces if _ip(topo.server_public) in _net(cidr)}  # may carry several networks
    inside = any(_ip(client_ip) in _net(cidr) for i, cidr in ifaces if i not in public)
    d = last_data(obs)
    target = (
        (topo.server_public, obs.case.server.control_port)
        if f.stage == "connect"
        else ((d.target.host, d.target.port) if d.target else None)
    )
    seen = _ended_at_box(obs, *target) if inside and target else None
    if not seen:
        return None
    assert target is not None
    ev = replace(ev, untranslated=seen[1])
    text = (
        f"The client {client_ip} sits on a network inside {seen[0]}, behind the same router as "
        f"the server, and dialled the server's public address {target[0]}:{target[1]}. {seen[0]} "
        f"port-forwards only what arrives from outside, so the connection ended at {seen[0]} "
        f"itself, untranslated ({seen[1]}), and {f.kind}. Add hairpin NAT on "
        f"{seen[0]} (port-forward inside clients too and masquerade them), or let inside clients "
        f"use the server's inside address (split DNS)."
    )
    return Verdict("fail", f.stage, text, ev)


def _net(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_interface(cidr).network


def _ip(addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(addr)


@check("passive-port-translated", 150)
def passive_port_translated(obs: Observation, ev: Evidence) -> Verdict | None:
    """The firewall publishes the passive ports under other numbers than the server advertises
    (a run's port map, or a topology that declares it: a Kubernetes NodePort per passive port)."""
    f, d = ev.failure, last_data(obs)
    pm = obs.case.net.port_map or obs.topology.published_passive
    rng = obs.case.server.passive
    if f is None or f.stage != "data-connect" or pm is None or d.advertised_port not in rng or not d.target:
        return None
    seen = _ended_at_box(obs, d.target.host, d.target.port)
    assert d.advertised_port is not None, "it is in the passive range"
    public = pm.first + d.advertised_port - rng.first
    if seen:
        ev = replace(ev, untranslated=seen[1])
    where = f" ({seen[1]})" if seen else ""
    box = "the firewall" if obs.case.net.port_map or not seen else seen[0]
    who = "The firewall" if obs.case.net.port_map or not seen else f"The box {box}"
    same = f"{rng}:{rng}" if obs.case.net.port_map else f"{rng} as {rng}: a NodePort range that takes them"
    text = (
        f"{who} publishes the server's passive ports under other numbers ({pm} outside "
        f"-> {rng} on the server), but the server advertised its own port {d.advertised_port} "
        f"in '{d.reply}'. Outside, port {d.advertised_port} is not forwarded: the client's "
        f"connection to {d.target} {f'ended at {box}, untranslated' if seen else 'failed'}"
        f"{where}, and {f.kind}; the public port was {public}. An FTP helper can rewrite the "
        f"port in plain FTP only (never under TLS); publish the passive range under the same "
        f"numbers ({same})."
    )
    return Verdict("fail", "data-connect", text, ev)
