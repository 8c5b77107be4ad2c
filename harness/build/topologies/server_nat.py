"""server-nat, server-nat-alg: the server on a private network behind a NAT firewall.

client 203.0.113.100 ──eth0 ── wan0 [ fw ] lan0 ── eth0── server 10.0.2.2
               203.0.113.0/24 (internet)    10.0.2.0/24 (private)
fw 203.0.113.10 = the server's public address
port forwards: 21, 990 and the passive range -> 10.0.2.2; forward policy drop
-alg: the conntrack FTP helper inspects port 21

hairpin (NetSpec.hairpin): the client sits on the server's LAN and dials the public address
client 10.0.2.100 ──┐
                    br0 10.0.2.1 [ fw ] wan0 203.0.113.10 ── isp 203.0.113.1
server 10.0.2.2 ────┘
"""

from harness.build.topologies import variants
from harness.build.topologies._common import CLIENT_PUBLIC, SERVER_PUBLIC, ruleset
from harness.build.topology import Bridge, Host, Link, Middlebox, Port, Route, Topology
from harness.core.case import NetSpec, ServerSpec


def _server_nat(server: ServerSpec, net: NetSpec, helper: bool) -> Topology:
    if net.hairpin:
        return _hairpin(server, net, helper)
    rs = ruleset(
        "fw",
        "server-nat.nft",
        server,
        net,
        helper,
        opens_passive=True,
        PUBLIC_IP=SERVER_PUBLIC,
        SERVER_IP="10.0.2.2",
        INSIDE_NET="10.0.2.0/24",
    )
    return Topology(
        hosts=(
            # The client's ISP routes everything via the firewall's side of the internet.
            Host("client", "client", (Route("default", SERVER_PUBLIC),)),
            Middlebox("fw", "router", ruleset=rs),
            Host("server", "server", (Route("default", "10.0.2.1"),)),
        ),
        links=(
            Link("internet", Port("client", "eth0", f"{CLIENT_PUBLIC}/24"), Port("fw", "wan0", f"{SERVER_PUBLIC}/24")),
            Link("server-lan", Port("fw", "lan0", "10.0.2.1/24"), Port("server", "eth0", "10.0.2.2/24")),
        ),
        client="client",
        servers=("server",),
        server_public=SERVER_PUBLIC,
        picture=__doc__,
    )


def _hairpin(server: ServerSpec, net: NetSpec, helper: bool) -> Topology:
    rs = ruleset(
        "fw",
        "server-nat.nft",
        server,
        net,
        helper,
        opens_passive=True,
        INSIDE_IF='"br0"',
        PUBLIC_IP=SERVER_PUBLIC,
        SERVER_IP="10.0.2.2",
        INSIDE_NET="10.0.2.0/24",
        EXTRA_FILES=("hairpin-nat.nft",) if net.hairpin_nat else (),
    )
    return Topology(
        hosts=(
            Host("client", "client", (Route("default", "10.0.2.1"),)),
            Middlebox("fw", "router", ruleset=rs),
            Host("server", "server", (Route("default", "10.0.2.1"),)),
            Host("isp", "router"),
        ),
        links=(
            Link("internet", Port("isp", "eth0", "203.0.113.1/24"), Port("fw", "wan0", f"{SERVER_PUBLIC}/24")),
            Link("server-port", Port("fw", "p1", ""), Port("server", "eth0", "10.0.2.2/24")),
            Link("client-port", Port("fw", "p2", ""), Port("client", "eth0", "10.0.2.100/24")),
        ),
        bridges=(Bridge("fw", "br0", "10.0.2.1/24", ("p1", "p2")),),
        client="client",
        servers=("server",),
        server_public=SERVER_PUBLIC,
        picture=__doc__,
    )


variants(
    (
        (
            "server-nat",
            20,
            "server behind a port-forwarding NAT firewall, no FTP helper",
            {"helper": False},
            "server-nat-alg",
        ),
        ("server-nat-alg", 21, "server behind a port-forwarding NAT firewall with the FTP helper", {"helper": True}),
    ),
    _server_nat,
    both_families=True,
)
