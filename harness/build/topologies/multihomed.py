"""server-multihomed (+ -map, -route, -pbr): a server on two networks, each behind its own
NAT firewall.

                          ┌── wan0 [ fwa ] lan0 ── eth0 10.0.2.2 ──┐
    client 203.0.113.100 ─┤ (internet switch)                      server
                          └── wan0 [ fwb ] lan0 ── eth1 10.0.5.2 ──┘
    fwa 203.0.113.10 (public A, the address clients dial); fwb 203.0.113.20 (public B)
    server-multihomed: default route via A; masquerade on advertises B's address, so a data
                       connection comes in through fwb while the server answers through fwa
    -map:   the fix: per-interface masquerade (pyftpdlib masquerade_address_map),
            10.0.2.2 -> A, 10.0.5.2 -> B
    -route: masquerade advertises A, but the default route is via B: the server answers
            connections that came in through fwa out through fwb
    -pbr:   the fix: source-based routing, replies from 10.0.2.2 leave through fwa
"""

from harness.build.topologies import variants
from harness.build.topologies._common import CLIENT_PUBLIC, ruleset
from harness.build.topology import Bridge, Host, Link, Middlebox, PolicyRule, Port, Route, Topology
from harness.core.case import NetSpec, ServerSpec

PUBLIC_A, PUBLIC_B = "203.0.113.10", "203.0.113.20"


def _multihomed(server: ServerSpec, net: NetSpec, fix: str) -> Topology:
    fwa = ruleset(
        "fwa",
        "server-nat.nft",
        server,
        net,
        False,
        opens_passive=True,
        PUBLIC_IP=PUBLIC_A,
        SERVER_IP="10.0.2.2",
        INSIDE_NET="10.0.2.0/24",
    )
    fwb = ruleset(
        "fwb",
        "server-nat.nft",
        server,
        net,
        False,
        opens_passive=True,
        PUBLIC_IP=PUBLIC_B,
        SERVER_IP="10.0.5.2",
        INSIDE_NET="10.0.5.0/24",
    )
    routes: tuple[Route, ...] = (Route("default", "10.0.2.1"),)
    policy: tuple[PolicyRule, ...] = ()
    if fix in ("route", "pbr"):
        routes = (Route("default", "10.0.5.1"),)
    if fix == "pbr":
        routes += (Route("default", "10.0.2.1", table=101), Route("default", "10.0.5.1", table=102))
        policy = (PolicyRule("10.0.2.2", 101), PolicyRule("10.0.5.2", 102))
    return Topology(
        hosts=(
            Host("client", "client", (Route("default", PUBLIC_A),)),
            Host("inet", "switch"),
            Middlebox("fwa", "router", ruleset=fwa),
            Middlebox("fwb", "router", ruleset=fwb),
            Host("server", "server", routes, policy),
        ),
        links=(
            Link("client-port", Port("client", "eth0", f"{CLIENT_PUBLIC}/24"), Port("inet", "pc", "")),
            Link("fwa-port", Port("fwa", "wan0", f"{PUBLIC_A}/24"), Port("inet", "pa", "")),
            Link("fwb-port", Port("fwb", "wan0", f"{PUBLIC_B}/24"), Port("inet", "pb", "")),
            Link("lan-a", Port("fwa", "lan0", "10.0.2.1/24"), Port("server", "eth0", "10.0.2.2/24")),
            Link("lan-b", Port("fwb", "lan0", "10.0.5.1/24"), Port("server", "eth1", "10.0.5.2/24")),
        ),
        bridges=(Bridge("inet", "br0", "", ("pc", "pa", "pb")),),
        client="client",
        servers=("server",),
        server_public=PUBLIC_A,
        picture=__doc__,
        masquerade_address=PUBLIC_A if fix in ("route", "pbr") else PUBLIC_B,
        masquerade_map=(("10.0.2.2", PUBLIC_A), ("10.0.5.2", PUBLIC_B)) if fix == "map" else (),
    )


variants(
    (
        ("server-multihomed", 60, "server on 2 networks/firewalls; advertises B, answers via A", {"fix": ""}),
        ("server-multihomed-map", 61, "the same, fixed by per-interface masquerade", {"fix": "map"}),
        (
            "server-multihomed-route",
            62,
            "server on 2 networks/firewalls; default route via the other",
            {"fix": "route"},
        ),
        ("server-multihomed-pbr", 63, "the -route case, fixed by source-based routing", {"fix": "pbr"}),
    ),
    _multihomed,
)
