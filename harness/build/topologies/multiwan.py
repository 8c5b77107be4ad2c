"""client-multiwan, client-multiwan-sticky: a client firewall with two uplink addresses.

client 10.0.1.2 ──eth0 ── lan0 [ fw ] wan0 ── eth0── server 203.0.113.10
          10.0.1.0/24       203.0.113.100 + 203.0.113.101
client-multiwan:        each new connection leaves from the next address (numgen), so
                        control and data reach the server from different addresses
client-multiwan-sticky: one address per client (jhash ip saddr)
The firewall's choice is fresh for every case, so the order is the same on every run.
"""

from harness.build.topologies import variants
from harness.build.topologies._common import SERVER_PUBLIC, ruleset
from harness.build.topology import Host, Link, Middlebox, Port, Route, Topology
from harness.core.case import NetSpec, ServerSpec

PUBLIC_A, PUBLIC_B = "203.0.113.100", "203.0.113.101"


def _multiwan(server: ServerSpec, net: NetSpec, variant: str) -> Topology:
    rs = ruleset(
        "fw",
        "client-multiwan.nft",
        server,
        net,
        False,
        INSIDE_NET="10.0.1.0/24",
        PUBLIC_A=PUBLIC_A,
        PUBLIC_B=PUBLIC_B,
        EXTRA_FILES=(f"multiwan-{variant}.nft",),
    )
    return Topology(
        hosts=(
            Host("client", "client", (Route("default", "10.0.1.1"),)),
            Middlebox("fw", "router", ruleset=rs, fresh_per_case=True),
            Host("server", "server"),
        ),
        links=(
            Link("client-lan", Port("client", "eth0", "10.0.1.2/24"), Port("fw", "lan0", "10.0.1.1/24")),
            Link(
                "internet",
                Port("fw", "wan0", f"{PUBLIC_A}/24", extra=(f"{PUBLIC_B}/24",)),
                Port("server", "eth0", f"{SERVER_PUBLIC}/24"),
            ),
        ),
        client="client",
        servers=("server",),
        server_public=SERVER_PUBLIC,
        picture=__doc__,
    )


variants(
    (
        ("client-multiwan", 50, "client NAT with 2 uplinks, alternating per connection", {"variant": "alternate"}),
        ("client-multiwan-sticky", 51, "client NAT with 2 uplinks, sticky per client address", {"variant": "sticky"}),
    ),
    _multiwan,
)
