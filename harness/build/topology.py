"""A topology as data: hosts, links, addresses, routes and the middleboxes' rulesets, proxies
and translators. No I/O: a backend builds it (harness/build/backends)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from harness.core.family import get as get_family
from harness.core.ports import PassiveRange


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
    """A TCP proxy run in a middlebox: a config file from nat/ and its ${VARIABLES}; `kind`
    names its adapter (harness/build/proxies)."""

    file: str
    env: tuple[tuple[str, str], ...]
    kind: str = "haproxy"


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

    def render(self, read_file: Callable[[str], str]) -> str:
        """Render the ruleset text; `read_file(name)` returns a nat/ file's text."""
        if self.syntax == "iptables":  # no variables in iptables-save syntax
            return "\n".join(read_file(f) for f in self.files)
        head = [f"# ruleset {self.name}, rendered by the harness"]
        head += [f"define {k} = {v}" for k, v in self.defines]
        body = [read_file(f) for f in self.files]
        for k, v in self.defines:  # ${NAME}: where nft takes no variable (a ct timeout policy)
            body = [b.replace("${" + k + "}", v) for b in body]
        return get_family(self.family).nft_text("\n".join(head) + "\n\n" + "\n".join(body))

    def render_lines(self, read_file: Callable[[str], str]) -> list[tuple[str, str | None]]:
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
    passive: PassiveRange | None = None  # a server's own passive range, where servers split the case's


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
    family: str = "ipv4"  # the family of the address clients dial (harness/core/family.py)
    dual_stack: bool = False  # every host has both families; rulesets stay as written
    shared_home: bool = False  # the servers share one FTP home (replicas on a shared volume)
    published_control: tuple[tuple[int, int], ...] = ()  # control port -> the port clients dial (a NodePort)
    published_passive: PassiveRange | None = None  # the passive range as the path publishes it, if renumbered

    @property
    def server(self) -> str:
        return self.servers[0]

    def dial_port(self, control_port: int) -> int:
        """The port a client dials for the server's `control_port`."""
        return dict(self.published_control).get(control_port, control_port)

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
            if m.translator and any(
                addr.version == ipaddress.ip_network(r).version and addr in ipaddress.ip_network(r)
                for r in m.translator.routes
            ):
                return m.name
        return None

    def interfaces(self, host: str) -> list[tuple[str, str]]:
        """(ifname, CIDR) of every addressed interface of `host`, bridges included."""
        out = [(p.ifname, p.address) for p in self.ports_of(host) if p.address]
        return out + [(b.ifname, b.address) for b in self.bridges if b.host == host and b.address]

    def addresses(self, host: str) -> list[tuple[str, str]]:
        """interfaces(), with each interface's secondary addresses too."""
        return self.interfaces(host) + [(p.ifname, x) for p in self.ports_of(host) for x in p.extra]
