"""Fixes of the path: idle timeouts, keepalives, ICMP and the MSS, hairpin NAT, translated port numbers."""

from __future__ import annotations

from dataclasses import replace

import clients
from harness.core.case import Case
from harness.judge.fixes import client, fix, listing


@fix(
    "raise-idle-timeout",
    150,
    "raise the firewall's idle timeout for the FTP control port above the "
    "longest transfer (nft `ct timeout` policy `established`, or the load balancer's idle timeout)",
    "idle control connections of dead clients hold firewall state longer",
    lambda c, v: v.check == "control-idle-timeout" and c.net.idle_timeout > 0,
)
def _idle(c: Case) -> Case:
    return replace(c, net=replace(c.net, idle_timeout=max(60, c.net.idle_timeout * 30)))


@fix(
    "control-keepalive",
    160,
    "the client sends TCP keepalives on the control connection during "
    f"transfers (offered by {listing(clients.keeping_alive())})",
    "a little traffic every interval; the interval must stay below the firewall's idle timeout",
    lambda c, v: (
        v.check == "control-idle-timeout" and not c.client.keepalive and bool(clients.get(c.client.impl).keepalive)
    ),
)
def _keepalive(c: Case) -> Case:
    return client(c, keepalive=max(1, c.net.idle_timeout // 2))


@fix(
    "allow-icmp-frag-needed",
    170,
    "allow ICMP fragmentation-needed (ICMPv6 packet-too-big) through "
    "and out of the firewall, so path MTU discovery works",
    "none worth the name: RFC 4890 asks firewalls never to drop them",
    lambda c, v: v.check == "pmtu-black-hole" and c.net.icmp == "drop",
)
def _icmp(c: Case) -> Case:
    return replace(c, net=replace(c.net, icmp="pass"))


@fix(
    "mss-clamp",
    180,
    "clamp the TCP MSS to the route's MTU on the firewall "
    "(`tcp flags syn tcp option maxseg size set rt mtu` in the forward chain)",
    "only TCP is helped; the firewall rewrites every SYN it forwards",
    lambda c, v: v.check == "pmtu-black-hole" and not c.net.mss_clamp,
)
def _mss(c: Case) -> Case:
    return replace(c, net=replace(c.net, mss_clamp=True))


@fix(
    "hairpin-nat",
    190,
    "hairpin NAT on the router: port-forward inside clients that dial the public "
    "address too, and masquerade them so the server's replies return through the router",
    "inside clients reach the server from the router's address: the server's logs no longer show who they are",
    lambda c, v: v.check == "hairpin-missing" and not c.net.hairpin_nat,
)
def _hairpin(c: Case) -> Case:
    return replace(c, net=replace(c.net, hairpin_nat=True))


@fix(
    "same-port-numbers",
    200,
    "publish the passive range under its own numbers "
    "(e.g. -p 50000-50009:50000-50009), so the port the server advertises is the public one",
    "none, but the public port numbers change for everyone who relied on the mapped ones",
    lambda c, v: v.check == "passive-port-translated" and c.net.port_map is not None,
)
def _same_ports(c: Case) -> Case:
    return replace(c, net=replace(c.net, port_map=None))
