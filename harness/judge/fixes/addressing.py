"""Fixes of addresses and ports: what the server advertises, what the client uses, what the firewall forwards, where a balancer or a NAT sends each connection."""

from __future__ import annotations

from dataclasses import replace

import servers
from harness.build import topologies
from harness.core.case import Case
from harness.judge.fixes import client, fix, server, topology

HELPER = topologies.SHIPPED.helper_variants()
MULTIHOMED = {"server-multihomed": "server-multihomed-map", "server-multihomed-route": "server-multihomed-pbr"}


@fix(
    "masquerade",
    10,
    "the server advertises its public address (masquerade / pasv_address / external IP)",
    "the server must be told its public address; behind several NATs it needs one per interface",
    lambda c, v: c.client.mode == "pasv" and not c.server.masquerade,
)
def _masquerade(c: Case) -> Case:
    return server(c, masquerade=True)


@fix(
    "epsv",
    20,
    "the client uses EPSV instead of PASV (the reply carries no address)",
    "the client and every middlebox must support EPSV (RFC 2428)",
    lambda c, v: c.client.mode == "pasv",
)
def _epsv(c: Case) -> Case:
    return client(c, mode="epsv", pasv_address=None)


@fix(
    "helper",
    30,
    "enable the firewall's FTP helper (conntrack ftp / ALG) on the control port",
    "works only without TLS: the helper cannot read an encrypted control channel",
    lambda c, v: c.topology in HELPER,
)
def _helper(c: Case) -> Case:
    return topology(c, HELPER[c.topology])


@fix(
    "forward-passive-range",
    40,
    "forward (and allow) the server's passive range on the firewall",
    "opens the whole passive range to the clients; keep the range small",
    lambda c, v: c.net.forward_none,
)
def _forward(c: Case) -> Case:
    return replace(c, net=replace(c.net, forward_range=None, forward_none=False))


@fix(
    "align-ranges",
    50,
    "make the firewall's forwarded range the server's passive range",
    "none beyond keeping the two configurations in step",
    lambda c, v: c.net.forward_range is not None and c.net.forward_range != c.server.passive,
)
def _align(c: Case) -> Case:
    return replace(c, net=replace(c.net, forward_range=None, forward_none=False))


PERSIST = {"lb-roundrobin": "lb-source", "lb-nft-roundrobin": "lb-nft-source"}


@fix(
    "lb-persistence",
    60,
    "balance by source address so control and data reach the same server",
    "load spreads per client, not per connection; clients behind one NAT share a server",
    lambda c, v: c.topology in PERSIST,
)
def _persist(c: Case) -> Case:
    return topology(c, PERSIST[c.topology])


@fix(
    "sticky-snat",
    70,
    "source-NAT each client to one uplink address (hash by source)",
    "a client's traffic no longer spreads over both uplinks",
    lambda c, v: c.topology == "client-multiwan",
)
def _sticky(c: Case) -> Case:
    return topology(c, "client-multiwan-sticky")


@fix(
    "permit-foreign",
    80,
    f"let the server accept data connections from other addresses ({servers.setting_names('permit-foreign')})",
    "weakens security: anyone who guesses the port can take over the data connection",
    lambda c, v: v.check == "foreign-address" and not c.server.permit_foreign,
)
def _foreign(c: Case) -> Case:
    return server(c, permit_foreign=True)


@fix(
    "multihomed",
    140,
    "per-interface masquerade (server-multihomed) or source-based routing "
    "(server-multihomed-route), so each connection leaves the way it came",
    "one more piece of server or routing configuration to keep in step with the firewalls",
    lambda c, v: c.topology in MULTIHOMED,
)
def _multihomed(c: Case) -> Case:
    return topology(c, MULTIHOMED[c.topology])
