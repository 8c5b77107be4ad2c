"""Load balancers in front of two FTP servers: HAProxy (a proxy) or nftables (kernel NAT).

    client 203.0.113.100 ──eth0 ── wan0 [ lb ] br0 10.0.3.1 ──┬── s1 10.0.3.11
                                   VIP 203.0.113.10            └── s2 10.0.3.12
    lb-roundrobin / lb-source:         HAProxy, TCP mode, `balance roundrobin` / `balance source`;
                                       the VIP binds 21, 990 and the passive range
    lb-nft-roundrobin / lb-nft-source: nftables DNAT with `numgen inc` / `jhash ip saddr`
    masquerade on = the servers advertise the VIP; off = their own address.
    The balancer's state is fresh for every case, so the order is the same on every run.
"""
from ..model import (Bridge, Host, Link, Middlebox, NetSpec, Port, Proxy, Route, ServerSpec,
                     Topology)
from . import topology
from ._common import CLIENT_PUBLIC, SERVER_PUBLIC, ruleset

VIP = SERVER_PUBLIC
BACKENDS = {"s1": "10.0.3.11", "s2": "10.0.3.12"}


def _lb(name: str, summary: str, server: ServerSpec, net: NetSpec, kind: str, balance: str) -> Topology:
    rng = net.forwarded(server)
    common = dict(INSIDE_IF='"br0"', INSIDE_NET="10.0.3.0/24", VIP=VIP,
                  S1=BACKENDS["s1"], S2=BACKENDS["s2"])
    if kind == "haproxy":
        rs = ruleset(name, "lb-proxy.nft", server, net, False, **common)
        proxy = Proxy("lb-haproxy.cfg", (("VIP", VIP), ("PASV_FIRST", str(rng.first)),
                                         ("PASV_LAST", str(rng.last)), ("BALANCE", balance),
                                         ("S1", BACKENDS["s1"]), ("S2", BACKENDS["s2"])))
    else:
        rs = ruleset(name, "lb-nft.nft", server, net, False, LB_PORTS=f"{{ 21, 990, {rng} }}",
                     EXTRA_FILES=(f"lb-nft-{balance}.nft",), **common)
        proxy = None
    return Topology(
        name=name, summary=summary,
        hosts=(
            Host("client", "client", (Route("default", VIP),)),
            Middlebox("lb", "router", ruleset=rs, proxy=proxy, fresh_per_case=True),
            Host("s1", "server", (Route("default", "10.0.3.1"),)),
            Host("s2", "server", (Route("default", "10.0.3.1"),)),
        ),
        links=(
            Link("internet", Port("client", "eth0", f"{CLIENT_PUBLIC}/24"), Port("lb", "wan0", f"{VIP}/24")),
            Link("s1-port", Port("lb", "p1", ""), Port("s1", "eth0", f"{BACKENDS['s1']}/24")),
            Link("s2-port", Port("lb", "p2", ""), Port("s2", "eth0", f"{BACKENDS['s2']}/24")),
        ),
        bridges=(Bridge("lb", "br0", "10.0.3.1/24", ("p1", "p2")),),
        client="client", servers=("s1", "s2"), server_public=VIP, picture=__doc__,
    )


@topology("lb-roundrobin", "HAProxy (TCP) balancing 2 servers round robin, no persistence", order=40)
def lb_roundrobin(server: ServerSpec, net: NetSpec) -> Topology:
    return _lb("lb-roundrobin", "HAProxy (TCP) balancing 2 servers round robin, no persistence",
               server, net, "haproxy", "roundrobin")


@topology("lb-source", "HAProxy (TCP) balancing 2 servers by source address", order=41)
def lb_source(server: ServerSpec, net: NetSpec) -> Topology:
    return _lb("lb-source", "HAProxy (TCP) balancing 2 servers by source address",
               server, net, "haproxy", "source")


@topology("lb-nft-roundrobin", "nftables DNAT balancing 2 servers round robin (numgen)", order=42)
def lb_nft_roundrobin(server: ServerSpec, net: NetSpec) -> Topology:
    return _lb("lb-nft-roundrobin", "nftables DNAT balancing 2 servers round robin (numgen)",
               server, net, "nft", "roundrobin")


@topology("lb-nft-source", "nftables DNAT balancing 2 servers by source hash (jhash)", order=43)
def lb_nft_source(server: ServerSpec, net: NetSpec) -> Topology:
    return _lb("lb-nft-source", "nftables DNAT balancing 2 servers by source hash (jhash)",
               server, net, "nft", "source")
