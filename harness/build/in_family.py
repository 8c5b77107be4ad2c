"""A topology written with IPv4 lab addresses, in another address family.

Every address, route, policy rule, ruleset define and drawing goes through the family's
one mapping (harness/core/family.py), so a topology file is written once, for IPv4.
"""

from __future__ import annotations

from dataclasses import replace

from harness.build.topology import Host, Link, Middlebox, Port, Topology
from harness.core.family import IPV6, Family


def in_family(topo: Topology, fam: Family) -> Topology:
    if topo.dual_stack:
        return _dual_stack(topo, fam)
    if fam.version == 4 or topo.family != "ipv4":  # IPv4, or a topology built in its family
        return topo
    a, text = fam.lab_address, fam.lab_text

    def port(p: Port) -> Port:
        return replace(p, address=a(p.address), extra=tuple(map(a, p.extra)))

    def host(h: Host) -> Host:
        h = replace(
            h,
            routes=tuple(replace(r, dst=a(r.dst), via=a(r.via)) for r in h.routes),
            policy=tuple(replace(r, src=a(r.src)) for r in h.policy),
        )
        if isinstance(h, Middlebox) and h.ruleset:
            h = replace(
                h,
                ruleset=replace(h.ruleset, family=fam.name, defines=tuple((k, text(v)) for k, v in h.ruleset.defines)),
            )
        if isinstance(h, Middlebox) and h.proxy:
            h = replace(h, proxy=replace(h.proxy, env=tuple((k, fam.proxy_address(text(v))) for k, v in h.proxy.env)))
        return h

    return replace(
        topo,
        family=fam.name,
        hosts=tuple(map(host, topo.hosts)),
        links=tuple(Link(x.name, port(x.a), port(x.b)) for x in topo.links),
        bridges=tuple(replace(b, address=a(b.address)) for b in topo.bridges),
        server_public=a(topo.server_public),
        masquerade_address=a(topo.masquerade_address),
        masquerade_map=tuple((a(k), a(v)) for k, v in topo.masquerade_map),
        picture=text(topo.picture),
    )


def _dual_stack(topo: Topology, fam: Family) -> Topology:
    """Both families on every interface and route; the client dials `fam`'s address."""
    a = IPV6.lab_address

    def port(p: Port) -> Port:
        twins = tuple(a(x) for x in (p.address, *p.extra) if x)
        return replace(p, extra=p.extra + twins)

    def host(h: Host) -> Host:
        return replace(h, routes=h.routes + tuple(replace(r, dst=a(r.dst), via=a(r.via)) for r in h.routes))

    return replace(
        topo,
        family=fam.name,
        hosts=tuple(map(host, topo.hosts)),
        links=tuple(Link(x.name, port(x.a), port(x.b)) for x in topo.links),
        server_public=fam.lab_address(topo.server_public),
    )
