"""direct: client and server on two public networks, joined by a stateful router. No NAT.

client 198.51.100.10 ──eth0 ── wan0 [ router ] lan0 ── eth0── server 203.0.113.10
                     198.51.100.0/24       203.0.113.0/24
router: forward drop; in: control ports + passive range; out: anything
"""

from harness.build.topologies import topology
from harness.build.topologies._common import SERVER_PUBLIC, ruleset
from harness.build.topology import Host, Link, Middlebox, Port, Route, Topology
from harness.core.case import NetSpec, ServerSpec


@topology("direct", "routed, no NAT; the router is a stateful firewall (baseline)", order=10, both_families=True)
def direct(server: ServerSpec, net: NetSpec) -> Topology:
    rs = ruleset("router", "router.nft", server, net, helper=False, opens_passive=True, SERVER_IP=SERVER_PUBLIC)
    return Topology(
        hosts=(
            Host("client", "client", (Route("default", "198.51.100.1"),)),
            Middlebox("router", "router", ruleset=rs),
            Host("server", "server", (Route("default", "203.0.113.1"),)),
        ),
        links=(
            Link("client-net", Port("client", "eth0", "198.51.100.10/24"), Port("router", "wan0", "198.51.100.1/24")),
            Link("server-net", Port("router", "lan0", "203.0.113.1/24"), Port("server", "eth0", f"{SERVER_PUBLIC}/24")),
        ),
        client="client",
        servers=("server",),
        server_public=SERVER_PUBLIC,
        picture=__doc__,
    )
