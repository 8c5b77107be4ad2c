"""Fixes of TLS behaviour: session reuse, CCC, the TLS version, a clean close."""

from __future__ import annotations

import clients
import servers
from harness.build import topologies
from harness.core.case import Case
from harness.judge.fixes import client, fix, listing, server, topology

HELPER = topologies.SHIPPED.helper_variants()


@fix(
    "reuse-client",
    90,
    "use a client that reuses the control connection's TLS session on data "
    f"connections (shown here for {listing(clients.reusing_sessions())})",
    "none for security; needs a capable client",
    lambda c, v: v.check == "session-reuse-required" and bool(clients.get(c.client.impl).reusing_variant),
)
def _reuseclient(c: Case) -> Case:
    return client(c, impl=clients.get(c.client.impl).reusing_variant)


@fix(
    "reuse-off",
    100,
    f"turn off the server's TLS session reuse requirement ({servers.setting_names('reuse-off')})",
    "weakens security: a data connection is no longer tied to the authenticated control session",
    lambda c, v: v.check in ("session-reuse-required", "tls-session-not-resumed") and c.server.reuse == "default",
)
def _reuse_off(c: Case) -> Case:
    return server(c, reuse="off")


ALG_BLIND = (
    "advertised-address-unreachable",
    "foreign-address",
    "data-port-unreachable",
    "passive-range-not-forwarded",
    "active-connect-failed",
)


@fix(
    "ccc",
    110,
    "log in under TLS, then clear the control channel (CCC) so the firewall's FTP helper "
    f"reads PASV/PORT again; data stays PROT P (servers: {servers.setting_names('ccc') or 'see docs/tls.md'})",
    "the control channel is in clear after the login: every later command and reply (file names, "
    "PASV/PORT, DELE, ...) can be read and altered in transit; only the password stays protected. "
    "Both ends must support CCC",
    lambda c, v: (
        c.server.mode.helper_blind and (c.topology in HELPER or c.topology in HELPER.values()) and v.check in ALG_BLIND
    ),
)
def _ccc(c: Case) -> Case:
    return server(topology(c, HELPER.get(c.topology, c.topology)), tls="ccc")


@fix(
    "tls12-only",
    120,
    "cap the TLS version at 1.2 (client --tls-max 1.2 / maximum_version, or the server's protocol list)",
    "gives up TLS 1.3 (encrypted certificates, fewer round trips, no legacy ciphers); both ends "
    "then need a TLS 1.2 cipher in common",
    lambda c, v: v.check == "tls-session-not-resumed" and c.client.tls_version == "1.3",
)
def _tls12(c: Case) -> Case:
    return client(c, tls_version="1.2")


@fix(
    "close-notify-client",
    130,
    "use a client that ends every data connection with a TLS "
    "close_notify (the same client with its clean shutdown: "
    f"{listing([clients.get(n).clean_variant for n in clients.names() if clients.get(n).clean_variant])})",
    "none; the client must not close a data connection before its TLS shutdown",
    lambda c, v: v.check == "data-tls-truncated" and bool(clients.get(c.client.impl).clean_variant),
)
def _close_notify(c: Case) -> Case:
    return client(c, impl=clients.get(c.client.impl).clean_variant)
