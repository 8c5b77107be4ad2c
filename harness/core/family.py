"""The address family layer: everything that differs between IPv4 and IPv6, in one place.

- the FTP lines that carry an address or a port (PORT, EPRT, 227, 229): encode and parse;
- the control ports;
- the lab's test networks per family (IPv4 test ranges; 2001:db8::/32 as "public", fd00::/8
  as private), as one mapping from each IPv4 lab network to its IPv6 twin;
- the words a firewall ruleset uses for the family (nft `ip`/`ip6`, iptables-save/ip6tables-save).

No other module parses PORT, EPRT, 227 or 229 (tests/test_family.py greps for it).
"""

from __future__ import annotations

import ftplib
import ipaddress
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Announced:
    """What an address-carrying line announces: an address (None for 229) and a port."""

    ip: str | None
    port: int


def plain(addr: str) -> str:
    """The address without a zone id, and an IPv4-mapped IPv6 address as the IPv4 it carries."""
    a = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped:
        return str(a.ipv4_mapped)
    return str(a)


def version_of(addr: str) -> int:
    """4 or 6: the family a peer really speaks (an IPv4-mapped address is IPv4)."""
    return ipaddress.ip_address(plain(addr)).version


def host_port(ip: str, port: int) -> str:
    """'203.0.113.10:21' or '[2001:db8::10]:21': an endpoint as logs and URLs write it."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def url_host(ip: str) -> str:
    """The host part of a URL: an IPv6 address goes in brackets."""
    return f"[{ip}]" if ":" in ip else ip


def peer_address(peer: str) -> str:
    """The address in a server's peer field: '[v6]:port', 'v4:port' or a bare address."""
    if peer.startswith("["):
        return peer[1:].split("]", 1)[0]
    try:
        ipaddress.ip_address(peer.split("%", 1)[0])
        return peer
    except ValueError:
        return peer.rsplit(":", 1)[0]


# --- the address-carrying lines ------------------------------------------------


def line_kind(line: str) -> str | None:
    """Which address-carrying line this is: PORT, EPRT, 227 or 229 (else None)."""
    head = line[:4].upper()
    if head in ("PORT", "EPRT"):
        return head
    return line[:3] if line[:3] in ("227", "229") else None


def _port(n: int) -> int:
    if not 0 < n < 65536:
        raise ValueError(f"port {n} is out of range")
    return n


def _bytes(nums: list[int], line: str) -> None:
    if any(n > 255 for n in nums):
        raise ValueError(f"numbers over 255 in {line!r}")


def parse_227(line: str) -> Announced:
    """227 Entering Passive Mode (h1,h2,h3,h4,p1,p2): the stdlib parser, bounds checked."""
    try:
        host, port = ftplib.parse227(line)
    except ftplib.Error as e:
        raise ValueError(f"cannot parse PASV reply {line!r}") from e
    nums = [int(x) for x in host.split(".")] + [port >> 8, port & 255]
    _bytes(nums, line)
    return Announced(".".join(map(str, nums[:4])), _port(port))  # ASCII, whatever digits came


def parse_227_or_none(line: str) -> Announced | None:
    try:
        return parse_227(line)
    except ValueError:
        return None


def parse_229(line: str) -> Announced:
    """229 Entering Extended Passive Mode (|||port|): a port only, no address."""
    try:
        _, port = ftplib.parse229(line, ("", 0))
    except (ftplib.Error, ValueError) as e:
        raise ValueError(f"cannot parse EPSV reply {line!r}") from e
    return Announced(None, _port(port))


def parse_port(line: str) -> Announced:
    """PORT h1,h2,h3,h4,p1,p2."""
    m = re.fullmatch(r"PORT\s+(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\s*", line, re.I | re.A)
    if not m:
        raise ValueError(f"cannot parse PORT command {line!r}")
    nums = [int(x) for x in m.groups()]
    _bytes(nums, line)
    return Announced(".".join(map(str, nums[:4])), _port(nums[4] * 256 + nums[5]))


def parse_eprt(line: str) -> Announced:
    """EPRT <d>proto<d>address<d>port<d> (RFC 2428); proto 1 = IPv4, 2 = IPv6."""
    m = re.fullmatch(r"EPRT\s+(.)([12])\1([^\s]+?)\1(\d{1,5})\1\s*", line, re.I | re.A)
    if not m:
        raise ValueError(f"cannot parse EPRT command {line!r}")
    proto, host = m.group(2), m.group(3)
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError as e:
        raise ValueError(f"EPRT address {host!r} is not an address") from e
    if addr.version != (4 if proto == "1" else 6):
        raise ValueError(f"EPRT says protocol {proto} but carries {host!r}")
    return Announced(host, _port(int(m.group(4))))


_PARSERS = {"PORT": parse_port, "EPRT": parse_eprt, "227": parse_227, "229": parse_229}


def announced(line: str) -> Announced | None:
    """What any address-carrying line announces, or None (not such a line, or unreadable)."""
    kind = line_kind(line)
    if kind is None:
        return None
    try:
        return _PARSERS[kind](line)
    except ValueError:
        return None


def address_in(line: str) -> str:
    """The address an address-carrying line announces, or "" (none, or unreadable)."""
    ep = announced(line)
    return ep.ip or "" if ep else ""


def encode_port(ip: str, port: int) -> str:
    """PORT for an IPv4 address. PORT cannot carry an IPv6 address: ValueError says so."""
    host = plain(ip)
    if version_of(host) != 4:
        raise ValueError(cannot_carry("PORT", ip))
    return "PORT " + ",".join(host.split(".") + [str(port >> 8), str(port & 255)])


def encode_eprt(ip: str, port: int) -> str:
    """EPRT for either family (a zone id is meaningless to the peer and is left out)."""
    host = plain(ip)
    return f"EPRT |{1 if version_of(host) == 4 else 2}|{host}|{_port(port)}|"


def encode_227(ip: str, port: int) -> str:
    host = plain(ip)
    if version_of(host) != 4:
        raise ValueError(cannot_carry("227", ip))
    return f"227 Entering Passive Mode ({host.replace('.', ',')},{port >> 8},{port & 255})."


def encode_229(port: int) -> str:
    return f"229 Entering Extended Passive Mode (|||{_port(port)}|)"


def cannot_carry(line: str, ip: str) -> str:
    """Why PORT or a 227 reply cannot be used with this address: the operator's sentence."""
    what = {"PORT": "the PORT command", "227": "the 227 reply to PASV", "PASV": "the 227 reply to PASV"}[line]
    return (
        f"{what} carries an address as four decimal bytes, so it cannot carry the IPv6 "
        f"address {ip}; over IPv6 only EPRT and EPSV (RFC 2428) can set up a data connection"
    )


# --- families -----------------------------------------------------------------

# Each IPv4 lab network and its IPv6 twin. The host part keeps its decimal digits, read as
# hexadecimal: 203.0.113.10 -> 2001:db8:113::10, so the two drawings read alike.
LAB_NETWORKS: tuple[tuple[str, str], ...] = (
    ("192.0.2.0/24", "2001:db8:2::/64"),
    ("198.51.100.0/24", "2001:db8:5100::/64"),
    ("203.0.113.0/24", "2001:db8:113::/64"),
    *((f"10.0.{i}.0/24", f"fd00:{i}::/64" if i else "fd00::/64") for i in range(10)),
)


def _private_twin(ip: ipaddress.IPv4Address) -> tuple[tuple[str, str], ...]:
    """Any other private /24 a topology file uses: 10.A.B.0/24 <-> fdAA:B::/64 (AA: A in hex)."""
    a, b, _, _ = ip.packed
    if a != 10:
        return ()
    return (
        (f"10.{b}.{ip.packed[2]}.0/24", f"fd{b:02x}:{ip.packed[2]:x}::/64" if b else f"fd00:{ip.packed[2]:x}::/64"),
    )


# NAT64: IPv6 clients reach IPv4 servers at this prefix + the IPv4 address (RFC 6052).
# Not the well-known 64:ff9b::/96: it must not carry non-global IPv4 addresses (RFC 6052
# 3.1), the lab's IPv4 "internet" is documentation space, and tayga refuses it (a run showed
# it answering every packet with an ICMPv6 error). A network-specific prefix in 2001:db8::/32.
NAT64_PREFIX = "2001:db8:64:ff9b::/96"


def nat64(v4: str, prefix: str = NAT64_PREFIX) -> str:
    """The IPv6 address an IPv6-only client dials to reach IPv4 address `v4` through NAT64."""
    net = ipaddress.IPv6Network(prefix)
    return str(ipaddress.IPv6Address(int(net.network_address) + int(ipaddress.IPv4Address(v4))))


@dataclass(frozen=True)
class Family:
    name: str  # ipv4 | ipv6
    version: int  # 4 | 6
    nft: str  # nft's keyword for the family's header fields: ip | ip6
    any_address: str  # what a server binds to for every address
    default_route: str
    host_bits: int
    save_command: str  # iptables-save | ip6tables-save
    passive_cmd: str  # the passive command that works in this family without an address
    active_cmd: str

    @property
    def public_networks(self) -> tuple[str, ...]:
        """The documentation ranges the lab uses as "the internet"."""
        return self._nets()[:3]

    @property
    def private_networks(self) -> tuple[str, ...]:
        """10.0.x.0/24 and its ULA twins fd00:x::/64."""
        return self._nets()[3:]

    def _nets(self) -> tuple[str, ...]:
        return tuple(v4 if self.version == 4 else v6 for v4, v6 in LAB_NETWORKS)

    def lab_address(self, v4: str) -> str:
        """A lab address (or CIDR) written for IPv4, in this family. Anything that is not an
        address of a lab network is returned as it is."""
        if self.version == 4:
            return v4
        addr, slash, plen = v4.partition("/")
        try:
            ip = ipaddress.IPv4Address(addr)
        except ValueError:
            return v4
        for net4, net6 in (*LAB_NETWORKS, *_private_twin(ip)):
            n4, n6 = ipaddress.IPv4Network(net4), ipaddress.IPv6Network(net6)
            if ip in n4:
                host = str(int(ip) - int(n4.network_address))
                out = str(ipaddress.IPv6Address(int(n6.network_address) + int(host, 16)))
                return f"{out}/{64 + int(plen) - 24}" if slash else out
        return v4

    def lab_text(self, text: str) -> str:
        """Every lab address in a text (a drawing, a define) in this family."""
        if self.version == 4:
            return text
        return re.sub(r"\b\d+\.\d+\.\d+\.\d+(?:/\d+)?\b", lambda m: self.lab_address(m.group(0)), text)

    def nft_text(self, text: str) -> str:
        """A ruleset written for IPv4 (`ip daddr`, `dnat ip to`, `l3proto ip`) in this family."""
        if self.version == 4:
            return text
        text = re.sub(r"\bip (saddr|daddr)\b", r"ip6 \1", text)
        text = re.sub(r"\b(dnat|snat) ip to\b", r"\1 ip6 to", text)
        text = re.sub(r"\bl3proto ip;", "l3proto ip6;", text)
        return self.lab_text(text)

    def proxy_address(self, value: str) -> str:
        """An address as HAProxy reads it: IPv6 with the ipv6@ prefix (its port goes after the
        last colon, so `ipv6@fd00:3::11:` is that address with the client's own port)."""
        return f"ipv6@{value}" if self.version == 6 and ":" in value else value

    def match(self, field: str, value: str) -> str:
        """An nft match on an address field: `ip daddr 203.0.113.10` / `ip6 daddr ...`."""
        return f"{self.nft} {field} {value}"

    def host_prefix(self, addr: str) -> str:
        return f"{addr}/{self.host_bits}"


IPV4 = Family("ipv4", 4, "ip", "0.0.0.0", "0.0.0.0/0", 32, "iptables-save", "PASV", "PORT")
IPV6 = Family("ipv6", 6, "ip6", "::", "::/0", 128, "ip6tables-save", "EPSV", "EPRT")
FAMILIES = {f.name: f for f in (IPV4, IPV6)}
NAMES = tuple(FAMILIES)


def get(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown address family {name!r}; valid: {', '.join(NAMES)}") from None


def of(addr: str) -> Family:
    """The family of an address (an IPv4-mapped IPv6 address is IPv4)."""
    return IPV4 if version_of(addr) == 4 else IPV6


def same_address(a: str | None, b: str | None) -> bool:
    """Two spellings of one address (IPv6 written in full or compressed, IPv4-mapped, zone ids)."""
    try:
        return a is not None and b is not None and plain(a) == plain(b)
    except ValueError:
        return False


def lab_public(ip: str) -> bool:
    """Is this address in one of the lab's "public" documentation ranges (either family)?"""
    try:
        a = ipaddress.ip_address(plain(ip))
    except ValueError:
        return False
    return any(a in ipaddress.ip_network(n) for f in FAMILIES.values() for n in f.public_networks)


# --- what an advertised data address is, seen from the control connection's peer ---
# Addresses that are not routed on the internet: RFC 1918, shared (CGNAT), loopback,
# link-local, IPv6 unique-local. (Python's is_private also counts the documentation
# ranges, which the lab uses as "public".)
PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
        "::1/128",
    )
)


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
