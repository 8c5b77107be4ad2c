"""A case: what to try (server, client, network), as frozen values with a stable id (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.core.caseid import path_tokens, render
from harness.core.ports import PassiveRange as PassiveRange  # re-exported: spec, plan and CLI code read it from here
from harness.core.tls import TlsMode
from harness.core.tls import mode as tls_mode

DATA_MODES = ("pasv", "epsv", "port", "eprt")
PASSIVE_MODES = ("pasv", "epsv")  # the modes a scenario or plan runs unless it names others
PASV_POLICIES = ("trust", "control")
MASQUERADE = ("on", "off")
ICMP_POLICIES = ("pass", "drop")


@dataclass(frozen=True)
class ServerSpec:
    impl: str = "pyftpdlib"
    tls: str = "explicit"
    passive: PassiveRange = PassiveRange(50000, 50009)
    masquerade: bool = False
    permit_foreign: bool = False  # accept data connections from/to other addresses than the peer
    reuse: str = "default"  # TLS session reuse on data connections: the server's default, or "off"

    @property
    def mode(self) -> TlsMode:
        return tls_mode(self.tls)

    @property
    def control_port(self) -> int:
        return self.mode.control_port


@dataclass(frozen=True)
class ClientSpec:
    impl: str = "ftplib"
    mode: str = "pasv"
    pasv_address: str | None = "trust"  # None where the policy does not apply
    busy: int = 0  # other sessions holding passive ports open during the case
    tls_version: str = "1.3"  # the highest TLS version the client offers
    transfers: int = 1  # upload+download rounds in one control session
    verify_cert: str = "on"  # on (lab CA), off (no check, curl -k), system (the system CAs only)
    keepalive: int = 0  # TCP keepalive on the control connection every N seconds; 0: the client's default


@dataclass(frozen=True)
class NetSpec:
    """How the network around the server differs from the default, if it does."""

    forward_range: PassiveRange | None = None  # firewalls open this instead of the server's range
    forward_none: bool = False  # firewalls forward no passive range at all
    family: str = "ipv4"  # the address family of every address in the lab (harness/core/family.py)
    # Path impairments (docs/path.md): applied to the firewall and its links by topologies.build
    mtu: int = 0  # the MTU of the firewall's interfaces (a tunnel in the path); 0: 1500
    icmp: str = "pass"  # drop: the firewall drops ICMP fragmentation-needed / packet-too-big
    idle_timeout: int = 0  # seconds the firewall keeps an idle control connection; 0: default
    rate: str = ""  # bandwidth of the client's link (tbf), e.g. "3mbit"; "" unlimited
    mss_clamp: bool = False  # the firewall clamps the TCP MSS to the route MTU
    port_map: PassiveRange | None = None  # the firewall publishes the passive ports as this range
    hairpin: bool = False  # the client sits on the server's LAN and dials the public address
    hairpin_nat: bool = False  # the firewall hairpins (DNAT + masquerade) inside clients

    def forwarded(self, server: ServerSpec) -> PassiveRange:
        return self.forward_range or server.passive

    def path_parts(self) -> list[str]:
        """The path impairments as case id parts (none: the id stays as it was)."""
        return path_tokens(self)


@dataclass(frozen=True)
class Case:
    topology: str
    server: ServerSpec
    client: ClientSpec
    net: NetSpec = NetSpec()

    @property
    def lab(self) -> str:
        """How reports name where the case ran: the topology, plus its family if not IPv4."""
        return self.topology if self.net.family == "ipv4" else f"{self.topology} {self.net.family}"

    @property
    def id(self) -> str:
        return render(self)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "topology": self.topology,
            "family": self.net.family,
            "server": self.server.impl,
            "client": self.client.impl,
            "mode": self.client.mode,
            "tls": self.server.tls,
            "pasv_address": self.client.pasv_address or "n/a",
            "masquerade": "on" if self.server.masquerade else "off",
            "passive_range": str(self.server.passive),
            "forward_range": "none" if self.net.forward_none else str(self.net.forwarded(self.server)),
            "busy_sessions": self.client.busy,
            "permit_foreign_addresses": self.server.permit_foreign,
            "reuse_required": self.server.reuse,
            **({"tls_version": self.client.tls_version} if self.client.tls_version != "1.3" else {}),
            **({"transfers": self.client.transfers} if self.client.transfers != 1 else {}),
            **({"verify_cert": self.client.verify_cert} if self.client.verify_cert != "on" else {}),
            **({"path": " ".join(self.net.path_parts())} if self.net.path_parts() else {}),
            **({"keepalive": self.client.keepalive} if self.client.keepalive else {}),
        }
