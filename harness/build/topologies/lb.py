"""Load balancers in front of two FTP servers: HAProxy (a proxy) or nftables (kernel NAT).

client 203.0.113.100 ──eth0 ── wan0 [ lb ] br0 10.0.3.1 ──┬── s1 10.0.3.11
                               VIP 203.0.113.10            └── s2 10.0.3.12
lb-roundrobin / lb-source:         HAProxy, TCP mode, `balance roundrobin` / `balance source`;
                                   the VIP binds 21, 990 and the passive range
lb-nft-roundrobin / lb-nft-source: nftables DNAT with `numgen inc` / `jhash ip saddr`
masquerade on = the servers advertise the VIP; off = their own address.
A round-robin balancer's state is fresh for every case, so the order is the same on every
run. HAProxy's `balance source` keeps no state (the source hash over two servers without
health checks), so lb-source keeps its HAProxy running across cases.
"""

from typing import Any

from harness.build.topologies import variants
from harness.build.topologies._common import CLIENT_PUBLIC, SERVER_PUBLIC, nft_set, ruleset
from harness.build.topology import Bridge, Host, Link, Middlebox, Port, Proxy, Route, Topology
from harness.core import tls
from harness.core.case import NetSpec, ServerSpec

VIP = SERVER_PUBLIC
BACKENDS = {"s1": "10.0.3.11", "s2": "10.0.3.12"}


def _lb(server: ServerSpec, net: NetSpec, kind: str, balance: str) -> Topology:
    rng = net.forwarded(server)
    common: dict[str, Any] = dict(
        INSIDE_IF='"br0"', INSIDE_NET="10.0.3.0/24", VIP=VIP, S1=BACKENDS["s1"], S2=BACKENDS["s2"]
    )
    if kind == "haproxy":
        rs = ruleset("lb", "lb-proxy.nft", server, net, False, **common)
        proxy = Proxy(
            "lb-haproxy.cfg",
            (
                ("VIP", VIP),
                ("PASV_FIRST", str(rng.first)),
                ("PASV_LAST", str(rng.last)),
                ("BALANCE", balance),
                ("S1", BACKENDS["s1"]),
                ("S2", BACKENDS["s2"]),
            ),
        )
    else:
        rs = ruleset(
            "lb",
            "lb-nft.nft",
            server,
            net,
            False,
            opens_passive=True,
            LB_PORTS=nft_set((*tls.CONTROL_PORTS, rng)),
            EXTRA_FILES=(f"lb-nft-{balance}.nft",),
            **common,
        )
        proxy = None
    stateless = kind == "haproxy" and balance == "source"  # no restart needed for the same order
    return Topology(
        hosts=(
            Host("client", "client", (Route("default", VIP),)),
            Middlebox("lb", "router", ruleset=rs, proxy=proxy, fresh_per_case=not stateless),
            Host("s1", "server", (Route("default", "10.0.3.1"),)),
            Host("s2", "server", (Route("default", "10.0.3.1"),)),
        ),
        links=(
            Link("internet", Port("client", "eth0", f"{CLIENT_PUBLIC}/24"), Port("lb", "wan0", f"{VIP}/24")),
            Link("s1-port", Port("lb", "p1", ""), Port("s1", "eth0", f"{BACKENDS['s1']}/24")),
            Link("s2-port", Port("lb", "p2", ""), Port("s2", "eth0", f"{BACKENDS['s2']}/24")),
        ),
        bridges=(Bridge("lb", "br0", "10.0.3.1/24", ("p1", "p2")),),
        client="client",
        servers=("s1", "s2"),
        server_public=VIP,
        picture=__doc__,
    )


variants(
    (
        (
            "lb-roundrobin",
            40,
            "HAProxy (TCP) balancing 2 servers round robin, no persistence",
            {"kind": "haproxy", "balance": "roundrobin"},
        ),
        (
            "lb-source",
            41,
            "HAProxy (TCP) balancing 2 servers by source address",
            {"kind": "haproxy", "balance": "source"},
        ),
        (
            "lb-nft-roundrobin",
            42,
            "nftables DNAT balancing 2 servers round robin (numgen)",
            {"kind": "nft", "balance": "roundrobin"},
        ),
        (
            "lb-nft-source",
            43,
            "nftables DNAT balancing 2 servers by source hash (jhash)",
            {"kind": "nft", "balance": "source"},
        ),
    ),
    _lb,
)
