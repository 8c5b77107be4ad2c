"""The domain model: pure data, no I/O.

Case -> Topology -> (Lab) -> Observation -> Verdict -> Result.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from .family import get as get_family
from .tls import NAMES as TLS_MODES, TlsMode, mode as tls_mode
DATA_MODES = ("pasv", "epsv", "port", "eprt")
PASV_POLICIES = ("trust", "control")
MASQUERADE = ("on", "off")
OUTCOMES = ("pass", "fail", "skip", "error")
STAGES = (
    "connect", "tls-handshake", "login", "data-setup",
    "data-connect", "data-tls", "transfer", "completion", "integrity",
)
ICMP_POLICIES = ("pass", "drop")
PASSIVE_MODES = ("pasv", "epsv")


@dataclass(frozen=True)
class PassiveRange:
    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(f"passive range {self.first}-{self.last} is reversed; "
                             f"did you mean {self.last}-{self.first}?")
        if not (1024 <= self.first <= self.last <= 65535):
            raise ValueError(f"passive range {self.first}-{self.last} must lie within 1024-65535")

    @classmethod
    def parse(cls, text: str) -> "PassiveRange":
        m = re.fullmatch(r"\s*([0-9]{1,5})\s*-\s*([0-9]{1,5})\s*", text)
        if not m:
            raise ValueError(f"passive range {text!r} must look like 50000-50009")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last


# --- topology --------------------------------------------------------------

@dataclass(frozen=True)
class Port:
    """One end of a link: an interface on a host with its address (CIDR)."""
    host: str
    ifname: str
    address: str  # e.g. "10.0.2.2/24"; "" for a port of a bridge
    extra: tuple[str, ...] = ()  # secondary addresses (CIDR), e.g. a second public IP
    mtu: int = 0  # the interface MTU; 0: the default (1500)
    rate: str = ""  # egress bandwidth limit (tbf), e.g. "4mbit"; "" none

    @property
    def ip(self) -> str:
        return str(ipaddress.ip_interface(self.address).ip) if self.address else ""


@dataclass(frozen=True)
class Link:
    """A point-to-point L2 segment (a veth pair in the netns backend)."""
    name: str
    a: Port
    b: Port


@dataclass(frozen=True)
class Route:
    dst: str  # "default" or a CIDR
    via: str
    table: int = 254  # 254 = main; others are reached through a PolicyRule


@dataclass(frozen=True)
class PolicyRule:
    """Source-based routing: packets from `src` use routing table `table`."""
    src: str
    table: int


@dataclass(frozen=True)
class Bridge:
    """An L2 switch inside a host: `members` (interfaces of that host) share one segment."""
    host: str
    ifname: str
    address: str  # CIDR on the bridge itself, or "" for a plain switch
    members: tuple[str, ...]


@dataclass(frozen=True)
class Proxy:
    """A TCP proxy (HAProxy) run in a middlebox: a config file from nat/ and its ${VARIABLES}."""
    file: str
    env: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Translator:
    """A NAT64 (tayga) run in a middlebox on tun device `tun`: a config file from nat/ and its
    ${VARIABLES}; `routes` go to the tun device (the IPv6 prefix and the IPv4 pool)."""
    file: str
    tun: str
    env: tuple[tuple[str, str], ...]
    routes: tuple[str, ...]


@dataclass(frozen=True)
class RuleSet:
    """An nftables ruleset: files from nat/ plus the variables they use."""
    name: str
    files: tuple[str, ...]
    defines: tuple[tuple[str, str], ...]
    helper: bool = False  # the conntrack FTP helper is attached
    forwards: str | None = None  # the passive range it forwards/opens; "" none; None: n/a
    family: str = "ipv4"  # the files are written for IPv4; rendered in this family
    syntax: str = "nft"  # or "iptables": an iptables-save file, loaded by iptables-nft-restore

    @property
    def loader(self) -> list[str]:
        return ["iptables-nft-restore"] if self.syntax == "iptables" else ["nft", "-f", "-"]

    def render(self, read_file) -> str:
        """Render the ruleset text; `read_file(name)` returns a nat/ file's text."""
        if self.syntax == "iptables":  # no variables in iptables-save syntax
            return "\n".join(read_file(f) for f in self.files)
        head = [f"# ruleset {self.name}, rendered by the harness"]
        head += [f"define {k} = {v}" for k, v in self.defines]
        body = [read_file(f) for f in self.files]
        for k, v in self.defines:  # ${NAME}: where nft takes no variable (a ct timeout policy)
            body = [b.replace("${" + k + "}", v) for b in body]
        return get_family(self.family).nft_text("\n".join(head) + "\n\n" + "\n".join(body))

    def render_lines(self, read_file) -> list[tuple[str, str | None]]:
        """The rendered lines, each with the "file:line" it came from (None: the header, or
        every line if the family's rewrite changed the line count)."""
        origins: list[str | None] = [None] * (len(self.defines) + 2)
        for f in self.files:
            base = f.rsplit("/", 1)[-1]
            origins += [f"{base}:{i}" for i in range(1, read_file(f).count("\n") + 2)]
        lines = self.render(read_file).split("\n")
        return list(zip(lines, origins)) if len(lines) == len(origins) else [(l, None) for l in lines]


@dataclass(frozen=True)
class Host:
    name: str
    role: str  # client | server | router
    routes: tuple[Route, ...] = ()
    policy: tuple[PolicyRule, ...] = ()


@dataclass(frozen=True)
class Middlebox(Host):
    """A router/firewall/load balancer host: forwards, enforces a RuleSet, may run a Proxy."""
    ruleset: RuleSet | None = None
    proxy: Proxy | None = None
    translator: Translator | None = None
    fresh_per_case: bool = False  # reset its state before every case (balancing order)


@dataclass(frozen=True)
class Topology:
    hosts: tuple[Host, ...]
    links: tuple[Link, ...]
    client: str  # name of the client host
    servers: tuple[str, ...]  # the server host(s); several behind a load balancer
    server_public: str  # the address clients dial
    picture: str = ""
    name: str = ""  # set from the registry entry (topologies.build)
    summary: str = ""
    bridges: tuple[Bridge, ...] = ()
    masquerade_address: str = ""  # what a server set to masquerade advertises (default: server_public)
    masquerade_map: tuple[tuple[str, str], ...] = ()  # per local address, when the server is told so
    family: str = "ipv4"  # the family of the address clients dial (harness/family.py)
    dual_stack: bool = False  # every host has both families; rulesets stay as written

    @property
    def server(self) -> str:
        return self.servers[0]

    def host(self, name: str) -> Host:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    @property
    def middleboxes(self) -> tuple[Middlebox, ...]:
        return tuple(h for h in self.hosts if isinstance(h, Middlebox))

    def ports_of(self, host: str) -> list[Port]:
        return [p for link in self.links for p in (link.a, link.b) if p.host == host]

    def address_of(self, host: str) -> str:
        return next(p.ip for p in self.ports_of(host) if p.ip)

    def owner_of(self, ip: str) -> str | None:
        for link in self.links:
            for p in (link.a, link.b):
                if p.ip == ip or any(str(ipaddress.ip_interface(x).ip) == ip for x in p.extra):
                    return p.host
        for b in self.bridges:
            if b.address and str(ipaddress.ip_interface(b.address).ip) == ip:
                return b.host
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        for m in self.middleboxes:  # a translator answers for the prefixes routed into it
            if m.translator and any(addr.version == ipaddress.ip_network(r).version
                                    and addr in ipaddress.ip_network(r) for r in m.translator.routes):
                return m.name
        return None

    def interfaces(self, host: str) -> list[tuple[str, str]]:
        """(ifname, CIDR) of every addressed interface of `host`, bridges included."""
        out = [(p.ifname, p.address) for p in self.ports_of(host) if p.address]
        return out + [(b.ifname, b.address) for b in self.bridges if b.host == host and b.address]


# --- cases -----------------------------------------------------------------

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
    family: str = "ipv4"  # the address family of every address in the lab (harness/family.py)
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
        from .caseid import path_tokens
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
        from .caseid import render  # the id table needs these specs
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


# --- what it means (what happened: observation.py) --------------------------

@dataclass
class Verdict:
    outcome: str
    stage: str | None
    diagnosis: str
    evidence: dict[str, Any] = field(default_factory=dict)
    check: str = ""  # name of the check that decided


@dataclass
class Result:
    case: Case
    verdict: Verdict
    duration_s: float
    rules: dict[str, Any] | None = None  # firewall -> rules.FirewallRules, for passing cases
    captures: list[str] = field(default_factory=list)  # evidence files, relative to the report dir
    stops: list[Any] = field(default_factory=list)  # failing cases: trace.TracePaths that ended in a drop
    traced: bool = False  # a middlebox of the case was traced (False: --no-trace, or a backend that cannot)
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase (harness/timing.py)

    def to_json(self) -> dict[str, Any]:
        d = self.case.describe()
        d.update(
            outcome=self.verdict.outcome,
            stage=self.verdict.stage,
            diagnosis=self.verdict.diagnosis,
            check=self.verdict.check,
            evidence=self.verdict.evidence,
            duration_s=round(self.duration_s, 3),
        )
        if self.captures:
            d["captures"] = self.captures
        if self.phases:
            d["phases"] = {k: round(v, 4) for k, v in self.phases.items()}
        return d
