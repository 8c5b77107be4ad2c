"""The plan: which cases the axes give (pure data, no I/O; used by matrix, scenarios and plans)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from harness.build import topologies
from harness.build.topologies import Catalog
from harness.core.case import DATA_MODES, MASQUERADE, PASV_POLICIES, Case, ClientSpec, NetSpec, PassiveRange, ServerSpec
from harness.core.tls import DEFAULT_MATRIX as DEFAULT_TLS
from harness.core.tls import mode as tls_mode


@dataclass(frozen=True)
class Axes:
    topologies: tuple[str, ...]
    modes: tuple[str, ...] = DATA_MODES
    tls: tuple[str, ...] = DEFAULT_TLS
    pasv_address: tuple[str, ...] = PASV_POLICIES
    masquerade: tuple[str, ...] = MASQUERADE
    servers: tuple[str, ...] = ("pyftpdlib",)
    clients: tuple[str, ...] = ("ftplib",)
    passive: PassiveRange = PassiveRange(50000, 50009)
    net: NetSpec = NetSpec()
    busy: int = 0
    permit_foreign: tuple[str, ...] = ("off",)
    reuse: tuple[str, ...] = ("default",)
    tls_versions: tuple[str, ...] = ("1.3",)
    transfers: int = 1
    verify_cert: tuple[str, ...] = ("on",)
    families: tuple[str, ...] | None = ("ipv4",)  # None: each topology's default families
    keepalive: int = 0  # the client's control-connection keepalive (seconds), 0: its default


def plan(axes: Axes, catalog: Catalog = topologies.SHIPPED) -> list[Case]:
    """Every combination. The PASV-address policy only applies to PASV (the one reply that
    carries an address), so for EPSV and the active modes it runs once, recorded as n/a."""
    cases: list[Case] = []
    tops = [
        (t, f) for t in axes.topologies for f in (axes.families or catalog.families(t)) if f in catalog.supported(t)
    ]
    for (topo, fam), srv, cli, tls, masq, pf, reuse, mode in itertools.product(
        tops, axes.servers, axes.clients, axes.tls, axes.masquerade, axes.permit_foreign, axes.reuse, axes.modes
    ):
        if reuse != "default" and not tls_mode(tls).control_tls:
            continue  # no TLS, nothing to reuse
        policies = axes.pasv_address if mode == "pasv" else (None,)
        server = ServerSpec(srv, tls, axes.passive, masq == "on", pf == "on", reuse)
        # TLS version and certificate check mean nothing without TLS: those run once, as default
        plain = not tls_mode(tls).control_tls
        for pol, version, verify in itertools.product(
            policies, ("1.3",) if plain else axes.tls_versions, ("on",) if plain else axes.verify_cert
        ):
            client = ClientSpec(cli, mode, pol, axes.busy, version, axes.transfers, verify, keepalive=axes.keepalive)
            cases.append(Case(topo, server, client, catalog.get(topo).net(replace(axes.net, family=fam))))
    return cases
