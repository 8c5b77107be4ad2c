"""Observed flows -> the rules each firewall needs (pure).

Every connection a firewall saw becomes an allow rule (and a NAT rule when conntrack shows
the connection was translated). Ports are generalised to the configured intent, never
further: a passive data port becomes the server's passive range; an active-mode data port
becomes the client's ephemeral range, flagged as wide open. A data connection the FTP helper
expected becomes a dependency on the helper instead of an open port.
"""

from __future__ import annotations

import ipaddress

from harness.build import tracking
from harness.build.topology import Middlebox, Topology
from harness.core.tls import CONTROL_PORTS as TLS_CONTROL_PORTS
from harness.core.tls import mode as tls_mode
from harness.judge.rules import CLIENT_EPHEMERAL, FirewallRules, Rule
from harness.observe.flows import Expectation, Flow
from harness.observe.middlebox_view import MiddleboxView
from harness.observe.observation import Observation

CLAMP_FILE = "path-mss-clamp.nft"
CONTROL_PORTS = {
    p: "FTPS control (implicit TLS)" if tls_mode("implicit").control_port == p else "FTP control"
    for p in TLS_CONTROL_PORTS
}


def _iface(topology: Topology, box: str, ip: str) -> tuple[str | None, str | None]:
    """(interface, network) of `box` that faces `ip`: an interface's own network (its primary
    address first, then its secondary ones: a dual-stack box's other family), else a route into
    a translator's tun device (its NAT64 prefix or its IPv4 pool)."""
    addr = ipaddress.ip_address(ip)
    for cidrs in (topology.interfaces(box), topology.addresses(box)):
        for ifname, cidr in cidrs:
            net = ipaddress.ip_interface(cidr).network
            if addr.version == net.version and addr in net:
                return ifname, str(net)
    host = topology.host(box)
    if isinstance(host, Middlebox) and host.translator:
        for route in host.translator.routes:
            net = ipaddress.ip_network(route)
            if addr.version == net.version and addr in net:
                return host.translator.tun, route
    return None, None


def _tun(topology: Topology, box: str) -> tuple[str | None, str | None]:
    """(tun device, IPv4 pool) of the box's translator (NAT64), or (None, None)."""
    host = topology.host(box)
    t = host.translator if isinstance(host, Middlebox) else None
    if t is None:
        return None, None
    return t.tun, next((r for r in t.routes if ipaddress.ip_network(r).version == 4), None)


def _translated(topology: Topology, box: str, iif: str | None, oif: str | None) -> tuple[str | None, str]:
    """For a translator's flows: the source a rule names (the translator gives each client
    whichever pool address is free, so the pool, not the one seen) and a note on the side."""
    tun, pool = _tun(topology, box)
    if tun is None:
        return None, ""
    if iif == tun:
        return pool, f" (translated to IPv4, from the pool {pool})"
    if oif == tun:
        return None, " (to be translated to IPv4)"
    return None, ""


def _purpose(obs: Observation, flow: Flow) -> tuple[str, str, bool]:
    """(ports, why, wide_open) for the flow's destination port, generalised to intent."""
    port, server = flow.real_dport, obs.case.server
    if port in CONTROL_PORTS:
        return str(port), CONTROL_PORTS[port], False
    server_side = (
        obs.topology.owner_of(flow.real_dst) in obs.topology.servers or flow.real_dst == obs.topology.server_public
    )
    if server_side and port in server.passive:
        return str(server.passive), f"passive data range {server.passive}", False
    if obs.topology.owner_of(flow.src) in obs.topology.servers:
        return (
            CLIENT_EPHEMERAL,
            f"active-mode data from the server to the client's ephemeral ports {CLIENT_EPHEMERAL} (wide open)",
            True,
        )
    return str(port), f"observed connection to port {port}", False


def _for_box(obs: Observation, box: str) -> FirewallRules:
    view = obs.middleboxes.get(box, MiddleboxView())
    seen = view.parsed_flows(box)
    expected: list[Expectation] = view.parsed_expectations(box)
    rules: list[Rule] = []

    def add(rule: Rule) -> None:
        if rule not in rules:
            rules.append(rule)

    own = {str(ipaddress.ip_interface(c).ip) for _, c in obs.topology.interfaces(box)}
    ends = "to the FTP server on this host" if box in obs.topology.servers else "to the proxy on this box"
    for f in seen:
        iif, _ = _iface(obs.topology, box, f.src)
        oif, _ = _iface(obs.topology, box, f.real_dst)
        if f.src in own:
            continue  # opened by the box itself (a proxy to its servers): output is not filtered
        if f.real_dst in own:  # ends at the box itself (a proxy's VIP): an input rule
            ports, why, wide = _purpose(obs, f)
            add(
                Rule(
                    "input",
                    f.proto,
                    iif=iif,
                    saddr=f.src,
                    daddr=f.real_dst,
                    dports=ports,
                    why=f"{ends}: {why}",
                    wide_open=wide,
                )
            )
            continue
        if any(e.matches(f) for e in expected):
            control = next((c for c in seen if c.real_dport == 21), None)
            add(
                Rule(
                    "helper",
                    iif=_iface(obs.topology, box, control.src)[0] if control else None,
                    dports="21",
                    why="FTP helper: reads PORT/EPRT/227/229 on the control "
                    "connection, rewrites them for NAT and opens the data connection's pinhole",
                )
            )
            continue
        ports, why, wide = _purpose(obs, f)
        pool, side = _translated(obs.topology, box, iif, oif)
        if f.dnat:
            balanced = len(obs.topology.servers) > 1
            add(
                Rule(
                    "dnat",
                    f.proto,
                    iif=iif,
                    daddr=f.dst,
                    dports=ports,
                    to=f.real_dst,
                    why=(
                        f"balanced to the server seen in this case ({obs.topology.owner_of(f.real_dst)}): "
                        if balanced
                        else "port forward: "
                    )
                    + why,
                    wide_open=wide,
                )
            )
        if f.snat:
            _, inside = _iface(obs.topology, box, f.src)
            add(
                Rule(
                    "snat",
                    f.proto,
                    oif=oif,
                    saddr=inside or f.src,
                    to="masquerade",
                    why=f"hide {inside or f.src} behind this firewall's address",
                )
            )
        add(
            Rule(
                "filter",
                f.proto,
                iif=iif,
                oif=oif,
                saddr=pool or f.src,
                daddr=f.real_dst,
                dports=ports,
                why=why + side,
                wide_open=wide,
            )
        )
    if _clamps(obs, box):
        add(
            Rule(
                "clamp",
                "tcp",
                dports=None,
                why="clamp the TCP MSS of forwarded SYNs to the route MTU (the path's MTU is below 1500)",
            )
        )
    return FirewallRules(
        box,
        obs.case.lab,
        sorted(rules, key=lambda r: r.key),
        client_ephemeral=CLIENT_EPHEMERAL,
        guards_input=any(r.kind == "input" for r in rules),
        family=obs.topology.family,
        unfiltered=_unfiltered(obs, box),
    )


def _unfiltered(obs: Observation, box: str) -> bool:
    """The box's own tables leave the case's family unfiltered (its flows were tracked by the
    lab's table, harness/build/tracking.py)."""
    host = obs.topology.host(box)
    return isinstance(host, Middlebox) and tracking.blind(host, obs.topology.family) is not None


def _clamps(obs: Observation, box: str) -> bool:
    """The box clamped the MSS while the case ran (the replay proves whether it must)."""
    rs = next((b.ruleset for b in obs.topology.middleboxes if b.name == box), None)
    return rs is not None and CLAMP_FILE in rs.files


def derive(obs: Observation) -> dict[str, FirewallRules]:
    """The rules every firewall on the path needs, for a case that passed. A box without a
    ruleset (a plain router, e.g. the internet between two sites) is not a firewall: none. Nor
    a box whose ruleset tracks no connections (stateless: the trace saw SYNs cross it, conntrack
    saw nothing): there are no flows to derive from, and its own ruleset stays in the proof."""
    return {
        box.name: _for_box(obs, box.name)
        for box in obs.topology.middleboxes
        if box.ruleset is not None and not untracked(obs.middleboxes.get(box.name, MiddleboxView()))
    }


def untracked(view: MiddleboxView) -> bool:
    """SYNs crossed the box (traced) and conntrack saw no connection at all."""
    return view.traced and any(p.syn for p in view.trace) and not view.flows
