"""What an advertised data address is, seen from the control connection's peer."""
from __future__ import annotations

import ipaddress

# Addresses that are not routed on the internet: RFC 1918, shared (CGNAT), loopback,
# link-local, IPv6 unique-local. (Python's is_private also counts the documentation
# ranges, which the lab uses as "public".)
PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
    "169.254.0.0/16", "fc00::/7", "fe80::/10", "::1/128"))


def private(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(a.version == n.version and a in n for n in PRIVATE)


def classify(advertised: str | None, peer: str) -> str:
    """same (the control peer), other-family, private (not routable: a leak when the peer
    is not), neighbour (another address in the peer's /24 or /64), third-party, or none (EPSV)."""
    if not advertised:
        return "none"
    try:
        a, p = ipaddress.ip_address(advertised), ipaddress.ip_address(peer)
    except ValueError:
        return "third-party"
    if a == p:
        return "same"
    if a.version != p.version:
        return "other-family"  # e.g. an IPv4 227 on an IPv6 control connection (NAT64)
    if private(advertised):
        return "private"
    if a.version == p.version and a in ipaddress.ip_network(f"{p}/{24 if p.version == 4 else 64}", strict=False):
        return "neighbour"
    return "third-party"
