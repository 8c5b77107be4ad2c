"""dual-stack-edge: one firewall forwards both families; the admin's filter rules are in a
`table ip` only (nat/dual-stack-edge.nft).

    client 198.51.100.10       ──eth0 ── wan0 [ edge ] lan0 ── eth0── server 203.0.113.10
           2001:db8:5100::10                                                 2001:db8:113::10
    edge: table ip: forward policy drop; in: control ports + passive range; the server may not
          open connections out. No table sees IPv6: runs show whether IPv6 is blocked or open.
    --family picks the address the client dials; both families are up in every case.
"""

from harness.build.topologies import topology
from harness.build.topologies._common import CONTROL_PORTS, SERVER_PUBLIC
from harness.build.topology import Host, Link, Middlebox, Port, Route, RuleSet, Topology
from harness.core.case import NetSpec, ServerSpec


@topology("dual-stack-edge", "dual-stack firewall whose filter rules are in `table ip` only", order=70)
def dual_stack_edge(server: ServerSpec, net: NetSpec) -> Topology:
    rs = RuleSet(
        "edge",
        ("dual-stack-edge.nft",),
        (
            ("OUTSIDE_IF", '"wan0"'),
            ("SERVER_IP", SERVER_PUBLIC),
            ("CONTROL_PORTS", CONTROL_PORTS),
            ("FORWARD_RANGE", str(net.forwarded(server))),
        ),
        forwards=str(net.forwarded(server)),
    )
    return Topology(
        hosts=(
            Host("client", "client", (Route("default", "198.51.100.1"),)),
            Middlebox("edge", "router", ruleset=rs),
            Host("server", "server", (Route("default", "203.0.113.1"),)),
        ),
        links=(
            Link("client-net", Port("client", "eth0", "198.51.100.10/24"), Port("edge", "wan0", "198.51.100.1/24")),
            Link("server-net", Port("edge", "lan0", "203.0.113.1/24"), Port("server", "eth0", f"{SERVER_PUBLIC}/24")),
        ),
        client="client",
        servers=("server",),
        server_public=SERVER_PUBLIC,
        picture=__doc__,
        dual_stack=True,
    )
