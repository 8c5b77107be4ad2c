"""client-nat, client-nat-alg: the client on a private network behind a masquerading NAT.

client 10.0.1.2 ──eth0 ── lan0 [ fw ] wan0 ── eth0── server 203.0.113.10
          10.0.1.0/24 (private)    203.0.113.0/24 (internet)
fw 203.0.113.100 = the client's public address; masquerade outbound; forward policy drop
-alg: the conntrack FTP helper inspects port 21
"""

from harness.build.topologies import variants
from harness.build.topologies._common import CLIENT_PUBLIC, SERVER_PUBLIC, ruleset
from harness.build.topology import Host, Link, Middlebox, Port, Route, Topology
from harness.core.case import NetSpec, ServerSpec


def _client_nat(server: ServerSpec, net: NetSpec, helper: bool) -> Topology:
    rs = ruleset("fw", "client-nat.nft", server, net, helper, PUBLIC_IP=CLIENT_PUBLIC, INSIDE_NET="10.0.1.0/24")
    return Topology(
        hosts=(
            Host("client", "client", (Route("default", "10.0.1.1"),)),
            Middlebox("fw", "router", ruleset=rs),
            Host("server", "server", (Route("default", CLIENT_PUBLIC),)),
        ),
        links=(
            Link("client-lan", Port("client", "eth0", "10.0.1.2/24"), Port("fw", "lan0", "10.0.1.1/24")),
            Link("internet", Port("fw", "wan0", f"{CLIENT_PUBLIC}/24"), Port("server", "eth0", f"{SERVER_PUBLIC}/24")),
        ),
        client="client",
        servers=("server",),
        server_public=SERVER_PUBLIC,
        picture=__doc__,
    )


variants(
    (
        ("client-nat", 30, "client behind a masquerading NAT, no FTP helper", {"helper": False}, "client-nat-alg"),
        ("client-nat-alg", 31, "client behind a masquerading NAT with the FTP helper", {"helper": True}),
    ),
    _client_nat,
    both_families=True,
)
