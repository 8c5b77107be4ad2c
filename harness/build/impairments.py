"""Path impairments (NetSpec.mtu, icmp, idle_timeout, rate, mss_clamp) as topology data.

Every firewall on the path (a middlebox with a ruleset, not a host firewall) gets the impairment's nft file from nat/ and,
for `mtu`, a lower MTU on its interfaces, as if it forwarded through a tunnel while the
hosts at either end keep 1500 and learn nothing. `rate` limits the client's link both ways
(tbf on both ends). The backend applies Port.mtu and Port.rate; nothing here touches the kernel.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import replace

from harness.build.topology import Host, Link, Middlebox, Port, Topology
from harness.core.case import NetSpec

# nat/ file per impairment, and the defines it needs from the NetSpec
FILES: tuple[tuple[str, Callable[[NetSpec], bool], Callable[[NetSpec], dict[str, str]]], ...] = (
    ("path-icmp-drop.nft", lambda n: n.icmp == "drop", lambda n: {}),
    ("path-idle-timeout.nft", lambda n: n.idle_timeout > 0, lambda n: {"IDLE_TIMEOUT": str(n.idle_timeout)}),
    ("path-mss-clamp.nft", lambda n: n.mss_clamp, lambda n: {}),
)


# The path's conditions: they stay in place when derived rules are proven by replay, as an
# upstream device would; the rules are proven under them (the clamp, for instance).
CONDITIONS = ("path-icmp-drop.nft", "path-idle-timeout.nft")


def conditions(topo: Topology, read_file: Callable[[str], str]) -> dict[str, str]:
    """Per firewall, the nft text of the path conditions it carries ("" files: none)."""
    out = {}
    for box in topo.middleboxes:
        files = tuple(f for f in (box.ruleset.files if box.ruleset else ()) if f in CONDITIONS)
        if files:
            assert box.ruleset is not None
            out[box.name] = "\n" + replace(box.ruleset, name=f"{box.ruleset.name} path conditions", files=files).render(
                read_file
            )
    return out


def with_path(topo: Topology, net: NetSpec) -> Topology:
    if not net.path_parts():
        return topo
    mapped = any(k == "PORT_MAP" for h in topo.middleboxes if h.ruleset for k, _ in h.ruleset.defines)
    client_net = ipaddress.ip_interface(topo.interfaces(topo.client)[0][1]).network
    same_lan = ipaddress.ip_address(topo.address_of(topo.server)) in client_net
    for asked, built, what in ((net.port_map, mapped, "a port map"), (net.hairpin, same_lan, "hairpin")):
        if asked and not built:
            raise ValueError(f"{what} is built by server-nat only, not by {topo.name or 'this topology'}")
    files = [(f, d(net)) for f, on, d in FILES if on(net)]
    # the path's firewalls: not a host firewall on the client or a server (an end keeps 1500)
    firewalls = {h.name for h in topo.middleboxes if h.ruleset is not None and h.role not in ("client", "server")}

    def host(h: Host) -> Host:
        if h.name not in firewalls or not files:
            return h
        assert isinstance(h, Middlebox) and h.ruleset is not None, "a firewall"
        rs = h.ruleset
        defines = dict(rs.defines)
        for _, d in files:
            defines.update(d)
        return replace(
            h, ruleset=replace(rs, files=rs.files + tuple(f for f, _ in files), defines=tuple(defines.items()))
        )

    def port(p: Port, link: Link) -> Port:
        touches_client = topo.client in (link.a.host, link.b.host)
        return replace(
            p,
            mtu=net.mtu if net.mtu and p.host in firewalls else p.mtu,
            rate=net.rate if net.rate and touches_client else p.rate,
        )

    return replace(
        topo,
        hosts=tuple(map(host, topo.hosts)),
        links=tuple(replace(x, a=port(x.a, x), b=port(x.b, x)) for x in topo.links),
    )
