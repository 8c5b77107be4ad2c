"""Known fixes, one registry entry each: which failing cases it applies to, how it changes
the case, and what it costs. `reproduce` re-runs each applicable fix for real. Server
settings and client abilities are quoted from their adapters.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import clients
import servers

from harness.core.case import Case
from harness.judge.verdict import Verdict

Applies = Callable[[Case, Verdict], bool]
Change = Callable[[Case], Case]


@dataclass(frozen=True)
class Fix:
    name: str
    what: str  # the change, in an operator's words
    cost: str  # what it costs or weakens, even when it works
    applies: Applies
    change: Change


FIXES: list[Fix] = []


def fix(name: str, what: str, cost: str, applies: Applies) -> Callable[[Change], Change]:
    def add(change: Change) -> Change:
        FIXES.append(Fix(name, what, cost, applies, change))
        return change
    return add


def _listing(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)


def _server(case: Case, **kw) -> Case:
    return replace(case, server=replace(case.server, **kw))


def _client(case: Case, **kw) -> Case:
    return replace(case, client=replace(case.client, **kw))


def _topology(case: Case, name: str) -> Case:
    return replace(case, topology=name)


@fix("masquerade", "the server advertises its public address (masquerade / pasv_address / external IP)",
     "the server must be told its public address; behind several NATs it needs one per interface",
     lambda c, v: c.client.mode == "pasv" and not c.server.masquerade)
def _masquerade(c: Case) -> Case:
    return _server(c, masquerade=True)


@fix("epsv", "the client uses EPSV instead of PASV (the reply carries no address)",
     "the client and every middlebox must support EPSV (RFC 2428)",
     lambda c, v: c.client.mode == "pasv")
def _epsv(c: Case) -> Case:
    return _client(c, mode="epsv", pasv_address=None)


HELPER = {"server-nat": "server-nat-alg", "client-nat": "client-nat-alg"}


@fix("helper", "enable the firewall's FTP helper (conntrack ftp / ALG) on the control port",
     "works only without TLS: the helper cannot read an encrypted control channel",
     lambda c, v: c.topology in HELPER)
def _helper(c: Case) -> Case:
    return _topology(c, HELPER[c.topology])


@fix("forward-passive-range", "forward (and allow) the server's passive range on the firewall",
     "opens the whole passive range to the clients; keep the range small",
     lambda c, v: c.net.forward_none)
def _forward(c: Case) -> Case:
    return replace(c, net=replace(c.net, forward_range=None, forward_none=False))


@fix("align-ranges", "make the firewall's forwarded range the server's passive range",
     "none beyond keeping the two configurations in step",
     lambda c, v: c.net.forward_range is not None and c.net.forward_range != c.server.passive)
def _align(c: Case) -> Case:
    return replace(c, net=replace(c.net, forward_range=None, forward_none=False))


PERSIST = {"lb-roundrobin": "lb-source", "lb-nft-roundrobin": "lb-nft-source"}


@fix("lb-persistence", "balance by source address so control and data reach the same server",
     "load spreads per client, not per connection; clients behind one NAT share a server",
     lambda c, v: c.topology in PERSIST)
def _persist(c: Case) -> Case:
    return _topology(c, PERSIST[c.topology])


@fix("sticky-snat", "source-NAT each client to one uplink address (hash by source)",
     "a client's traffic no longer spreads over both uplinks",
     lambda c, v: c.topology == "client-multiwan")
def _sticky(c: Case) -> Case:
    return _topology(c, "client-multiwan-sticky")


@fix("permit-foreign", "let the server accept data connections from other addresses "
     f"({servers.setting_names('permit-foreign')})",
     "weakens security: anyone who guesses the port can take over the data connection",
     lambda c, v: v.check == "foreign-address" and not c.server.permit_foreign)
def _foreign(c: Case) -> Case:
    return _server(c, permit_foreign=True)


@fix("reuse-client", "use a client that reuses the control connection's TLS session on data "
     f"connections (shown here for {_listing(clients.reusing_sessions())})",
     "none for security; needs a capable client",
     lambda c, v: v.check == "session-reuse-required" and bool(clients.get(c.client.impl).reusing_variant))
def _reuse_client(c: Case) -> Case:
    return _client(c, impl=clients.get(c.client.impl).reusing_variant)


@fix("reuse-off", "turn off the server's TLS session reuse requirement "
     f"({servers.setting_names('reuse-off')})",
     "weakens security: a data connection is no longer tied to the authenticated control session",
     lambda c, v: v.check in ("session-reuse-required", "tls-session-not-resumed")
     and c.server.reuse == "default")
def _reuse_off(c: Case) -> Case:
    return _server(c, reuse="off")


ALG_BLIND = ("advertised-address-unreachable", "foreign-address", "data-port-unreachable",
             "passive-range-not-forwarded", "active-connect-failed")


@fix("ccc", "log in under TLS, then clear the control channel (CCC) so the firewall's FTP helper "
     f"reads PASV/PORT again; data stays PROT P (servers: {servers.setting_names('ccc') or 'see docs/tls.md'})",
     "the control channel is in clear after the login: every later command and reply (file names, "
     "PASV/PORT, DELE, ...) can be read and altered in transit; only the password stays protected. "
     "Both ends must support CCC",
     lambda c, v: c.server.mode.helper_blind and (c.topology in HELPER or c.topology in HELPER.values())
     and v.check in ALG_BLIND)
def _ccc(c: Case) -> Case:
    return _server(_topology(c, HELPER.get(c.topology, c.topology)), tls="ccc")


@fix("tls12-only", "cap the TLS version at 1.2 (client --tls-max 1.2 / maximum_version, or the "
     "server's protocol list)",
     "gives up TLS 1.3 (encrypted certificates, fewer round trips, no legacy ciphers); both ends "
     "then need a TLS 1.2 cipher in common",
     lambda c, v: v.check == "tls-session-not-resumed" and c.client.tls_version == "1.3")
def _tls12(c: Case) -> Case:
    return _client(c, tls_version="1.2")


@fix("close-notify-client", "use a client that ends every data connection with a TLS "
     "close_notify (the same client with its clean shutdown: "
     f"{_listing([clients.get(n).clean_variant for n in clients.names() if clients.get(n).clean_variant])})",
     "none; the client must not close a data connection before its TLS shutdown",
     lambda c, v: v.check == "data-tls-truncated" and bool(clients.get(c.client.impl).clean_variant))
def _close_notify(c: Case) -> Case:
    return _client(c, impl=clients.get(c.client.impl).clean_variant)


MULTIHOMED = {"server-multihomed": "server-multihomed-map", "server-multihomed-route": "server-multihomed-pbr"}


@fix("multihomed", "per-interface masquerade (server-multihomed) or source-based routing "
     "(server-multihomed-route), so each connection leaves the way it came",
     "one more piece of server or routing configuration to keep in step with the firewalls",
     lambda c, v: c.topology in MULTIHOMED)
def _multihomed(c: Case) -> Case:
    return _topology(c, MULTIHOMED[c.topology])


@fix("raise-idle-timeout", "raise the firewall's idle timeout for the FTP control port above the "
     "longest transfer (nft `ct timeout` policy `established`, or the load balancer's idle timeout)",
     "idle control connections of dead clients hold firewall state longer",
     lambda c, v: v.check == "control-idle-timeout" and c.net.idle_timeout > 0)
def _idle(c: Case) -> Case:
    return replace(c, net=replace(c.net, idle_timeout=max(60, c.net.idle_timeout * 30)))


@fix("control-keepalive", "the client sends TCP keepalives on the control connection during "
     f"transfers (offered by {_listing(clients.keeping_alive())})",
     "a little traffic every interval; the interval must stay below the firewall's idle timeout",
     lambda c, v: (v.check == "control-idle-timeout" and not c.client.keepalive
                   and bool(clients.get(c.client.impl).keepalive)))
def _keepalive(c: Case) -> Case:
    return _client(c, keepalive=max(1, c.net.idle_timeout // 2))


@fix("allow-icmp-frag-needed", "allow ICMP fragmentation-needed (ICMPv6 packet-too-big) through "
     "and out of the firewall, so path MTU discovery works",
     "none worth the name: RFC 4890 asks firewalls never to drop them",
     lambda c, v: v.check == "pmtu-black-hole" and c.net.icmp == "drop")
def _icmp(c: Case) -> Case:
    return replace(c, net=replace(c.net, icmp="pass"))


@fix("mss-clamp", "clamp the TCP MSS to the route's MTU on the firewall "
     "(`tcp flags syn tcp option maxseg size set rt mtu` in the forward chain)",
     "only TCP is helped; the firewall rewrites every SYN it forwards",
     lambda c, v: v.check == "pmtu-black-hole" and not c.net.mss_clamp)
def _mss(c: Case) -> Case:
    return replace(c, net=replace(c.net, mss_clamp=True))


@fix("hairpin-nat", "hairpin NAT on the router: port-forward inside clients that dial the public "
     "address too, and masquerade them so the server's replies return through the router",
     "inside clients reach the server from the router's address: the server's logs no longer show who they are",
     lambda c, v: v.check == "hairpin-missing" and not c.net.hairpin_nat)
def _hairpin(c: Case) -> Case:
    return replace(c, net=replace(c.net, hairpin_nat=True))


@fix("same-port-numbers", "publish the passive range under its own numbers "
     "(e.g. -p 50000-50009:50000-50009), so the port the server advertises is the public one",
     "none, but the public port numbers change for everyone who relied on the mapped ones",
     lambda c, v: v.check == "passive-port-translated" and c.net.port_map is not None)
def _same_ports(c: Case) -> Case:
    return replace(c, net=replace(c.net, port_map=None))


def candidates(case: Case, verdict: Verdict) -> list[tuple[Fix, Case]]:
    """Every registered fix that applies to this failing case, with the changed case."""
    return [(f, f.change(case)) for f in FIXES if f.applies(case, verdict)]
