"""nat64: an IPv6-only client reaches an IPv4-only server through a NAT64 gateway (tayga on
a tun device in the middlebox, nat/tayga.conf; its firewall nat/nat64.nft).

    client 2001:db8:5100::10 ──eth0 ── wan0 [ nat64 ] lan0 ── eth0── server 203.0.113.10
           IPv6 only                  tun nat64: 2001:db8:64:ff9b::/96 <-> pool 192.0.2.128/25
    the client dials 2001:db8:64:ff9b::cb00:710a (the prefix + 203.0.113.10); no DNS64.
    The server only knows IPv4: what it puts in 227 is its IPv4 address.
"""

from harness.build.topologies import topology
from harness.build.topologies._common import SERVER_PUBLIC, ruleset
from harness.build.topology import Host, Link, Middlebox, Port, Route, Topology, Translator
from harness.core.case import NetSpec, ServerSpec
from harness.core.family import NAT64_PREFIX, nat64

POOL = "192.0.2.128/25"


@topology("nat64", "IPv6-only client, IPv4-only server, NAT64 (tayga) in between", order=75)
def nat64_gateway(server: ServerSpec, net: NetSpec) -> Topology:
    rs = ruleset(
        "nat64", "nat64.nft", server, net, helper=False, opens_passive=True, TUN='"nat64"', NAT64_PREFIX=NAT64_PREFIX
    )
    tayga = Translator(
        "tayga.conf",
        "nat64",
        (
            ("TUN", "nat64"),
            ("TAYGA_IPV4", "192.0.2.1"),
            ("TAYGA_IPV6", "2001:db8:64::1"),
            ("NAT64_PREFIX", NAT64_PREFIX),
            ("POOL", POOL),
        ),
        routes=(NAT64_PREFIX, POOL),
    )
    return Topology(
        hosts=(
            Host("client", "client", (Route("default", "2001:db8:5100::1"),)),
            Middlebox("nat64", "router", ruleset=rs, translator=tayga),
            Host("server", "server", (Route("default", "203.0.113.1"),)),
        ),
        links=(
            Link(
                "v6-net", Port("client", "eth0", "2001:db8:5100::10/64"), Port("nat64", "wan0", "2001:db8:5100::1/64")
            ),
            Link("v4-net", Port("nat64", "lan0", "203.0.113.1/24"), Port("server", "eth0", f"{SERVER_PUBLIC}/24")),
        ),
        client="client",
        servers=("server",),
        server_public=nat64(SERVER_PUBLIC),
        masquerade_address=SERVER_PUBLIC,
        picture=__doc__,
        family="ipv6",
    )
