"""The address-family module: the lines that carry addresses, the lab's networks per family,
and the one-place rule (no other module parses PORT, EPRT, 227 or 229)."""

import ipaddress
import re
from pathlib import Path

import pytest

from harness.core import family
from harness.core.family import IPV4, IPV6, Announced

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "line,want",
    [
        ("227 Entering Passive Mode (10,0,2,2,195,80).", Announced("10.0.2.2", 50000)),
        ("227 Entering Passive Mode (203,0,113,10,195,81)", Announced("203.0.113.10", 50001)),
        ("227 =203,0,113,10,195,81", Announced("203.0.113.10", 50001)),  # RFC 1123: no parentheses
    ],
)
def test_227(line, want):
    assert family.parse_227(line) == want


@pytest.mark.parametrize(
    "line",
    [
        "227 Entering Passive Mode (300,0,113,10,195,81).",
        "227 Entering Passive Mode.",
        "229 Entering Extended Passive Mode (|||50000|)",
        "227 (10,0,2,2,0,0)",
    ],
)
def test_227_refuses_garbage(line):
    with pytest.raises(ValueError):
        family.parse_227(line)


@pytest.mark.parametrize(
    "line,port",
    [
        ("229 Entering Extended Passive Mode (|||50000|)", 50000),
        ("229 Entering Extended Passive Mode (!!!50003!)", 50003),
    ],
)
def test_229_has_a_port_and_no_address(line, port):
    assert family.parse_229(line) == Announced(None, port)


@pytest.mark.parametrize("line", ["229 (|||70000|)", "229 (||50000|)", "229 x", "227 (|||1|)"])
def test_229_refuses_garbage(line):
    with pytest.raises(ValueError):
        family.parse_229(line)


@pytest.mark.parametrize(
    "line,want",
    [
        ("PORT 10,0,1,2,195,80", Announced("10.0.1.2", 50000)),
        ("port 10,0,1,2,0,21", Announced("10.0.1.2", 21)),
        ("EPRT |1|203.0.113.100|40000|", Announced("203.0.113.100", 40000)),
        ("EPRT |2|2001:db8:113::100|40000|", Announced("2001:db8:113::100", 40000)),
        ("EPRT !2!fd00:1::2!40000!", Announced("fd00:1::2", 40000)),
        ("EPRT |2|fe80::1%eth0|40000|", Announced("fe80::1%eth0", 40000)),  # a zone id, as given
        ("EPRT |2|::ffff:10.0.1.2|40000|", Announced("::ffff:10.0.1.2", 40000)),
    ],
)
def test_active_lines(line, want):
    assert family.announced(line) == want


@pytest.mark.parametrize(
    "line",
    [
        "PORT 10,0,1,2,195",
        "PORT 10,0,1,256,1,1",
        "EPRT |1|2001:db8::1|40000|",
        "EPRT |2|10.0.1.2|40000|",
        "EPRT |3|10.0.1.2|1|",
        "EPRT |2|not-an-address|1|",
        "EPRT |1|10.0.1.2|0|",
    ],
)
def test_active_lines_refuse_garbage(line):
    assert family.announced(line) is None
    assert family.address_in(line) == ""


def test_encoders_round_trip():
    assert family.parse_port(family.encode_port("10.0.1.2", 50000)) == Announced("10.0.1.2", 50000)
    assert family.parse_eprt(family.encode_eprt("2001:db8::5", 1025)) == Announced("2001:db8::5", 1025)
    assert family.parse_227(family.encode_227("203.0.113.10", 50009)) == Announced("203.0.113.10", 50009)
    assert family.parse_229(family.encode_229(50009)) == Announced(None, 50009)


def test_ipv4_mapped_and_zone_ids_are_encoded_as_the_peer_needs_them():
    # A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d: that is IPv4 on the wire.
    assert family.encode_port("::ffff:10.0.1.2", 256) == "PORT 10,0,1,2,1,0"
    assert family.encode_eprt("::ffff:10.0.1.2", 256) == "EPRT |1|10.0.1.2|256|"
    assert family.encode_eprt("fe80::1%eth0", 256) == "EPRT |2|fe80::1|256|"
    assert family.of("::ffff:10.0.1.2") is IPV4 and family.of("fe80::1%lan0") is IPV6


def test_port_and_227_cannot_carry_ipv6_and_say_why():
    for enc in (family.encode_port, family.encode_227):
        with pytest.raises(ValueError, match=r"cannot carry the IPv6 address 2001:db8::5.*EPRT and EPSV"):
            enc("2001:db8::5", 50000)


def test_line_kind():
    assert [
        family.line_kind(x) for x in ("PORT 1,2,3,4,5,6", "eprt |1|1.2.3.4|5|", "227 x", "229 x", "PASV", "200 ok")
    ] == ["PORT", "EPRT", "227", "229", None, None]


def test_lab_networks_stay_in_test_ranges():
    doc4 = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
    for n in IPV4.public_networks:
        assert ipaddress.ip_network(n) in doc4
    for n in IPV4.private_networks:
        assert ipaddress.ip_network(n).subnet_of(ipaddress.ip_network("10.0.0.0/8"))
    for n in IPV6.public_networks:
        assert ipaddress.ip_network(n).subnet_of(ipaddress.ip_network("2001:db8::/32"))
    for n in IPV6.private_networks:
        assert ipaddress.ip_network(n).subnet_of(ipaddress.ip_network("fd00::/8"))


def test_lab_addresses_map_to_their_twins():
    assert IPV6.lab_address("203.0.113.10") == "2001:db8:113::10"
    assert IPV6.lab_address("10.0.2.2/24") == "fd00:2::2/64"
    assert IPV6.lab_address("198.51.100.1") == "2001:db8:5100::1"
    assert IPV6.lab_address("eth0") == "eth0" and IPV6.lab_address("8.8.8.8") == "8.8.8.8"
    assert IPV4.lab_address("10.0.2.2/24") == "10.0.2.2/24"
    assert IPV6.lab_text("client 10.0.1.2 ── fw 203.0.113.100") == "client fd00:1::2 ── fw 2001:db8:113::100"


def test_nft_text_in_ipv6():
    v4 = (
        "iifname $OUTSIDE_IF ip daddr $PUBLIC_IP tcp dport 21 dnat ip to 10.0.2.2\n"
        '    oifname "wan0" ip saddr 10.0.2.0/24 masquerade\n    l3proto ip;\n'
    )
    assert IPV6.nft_text(v4) == (
        "iifname $OUTSIDE_IF ip6 daddr $PUBLIC_IP tcp dport 21 dnat ip6 to fd00:2::2\n"
        '    oifname "wan0" ip6 saddr fd00:2::/64 masquerade\n    l3proto ip6;\n'
    )
    assert IPV4.nft_text(v4) == v4
    assert IPV6.match("daddr", "2001:db8:113::10") == "ip6 daddr 2001:db8:113::10"


# Patterns that only a parser of these lines would contain.
_PARSING = re.compile(
    r"parse22[79]|\(\\d\+\),\(\\d\+\)|\\d\{1,3\}\),\(|\"\|\"\)|\(\.\)\\1\\1|"
    r"split\(\"\|\"\)|\"EPRT \||\\\|\\\|\\\|"
)


def test_no_other_module_parses_address_lines():
    offenders = []
    for pkg in ("harness", "clients", "servers"):
        for f in (ROOT / pkg).rglob("*.py"):
            if f == ROOT / "harness" / "core" / "family.py":
                continue
            for n, line in enumerate(f.read_text().splitlines(), 1):
                if _PARSING.search(line):
                    offenders.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "parse address lines in harness/core/family.py only:\n" + "\n".join(offenders)


def test_garbage_never_raises_anything_but_none():
    import random

    rnd = random.Random(13)
    alphabet = "0123456789,|()!.:% abcdefPORTEPRT227229٣\x00\u2028"
    for _ in range(3000):
        head = rnd.choice(["PORT ", "EPRT ", "227 ", "229 ", "port ", ""])
        line = head + "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 40)))
        ep = family.announced(line)
        assert ep is None or (0 < ep.port < 65536 and (ep.ip is None or ep.ip))
    assert family.announced("PORT ٣,0,1,2,195,80") is None  # ASCII digits only from our side
    # replies are read as the stdlib reads them: ASCII digits in a 227, any digit in a 229
    assert family.announced("227 Entering Passive Mode (١٠,0,2,2,195,80)") is None
    assert family.announced("229 Entering Extended Passive Mode (|||٣|)") == Announced(None, 3)
