"""The one id-part table: every planned case's id reads back to the same case."""

from __future__ import annotations

import pytest

from harness.build import topologies
from harness.core import caseid, family
from harness.core import tls as tlsmod
from harness.core.case import NetSpec, PassiveRange
from harness.plan.axes import Axes, plan
from harness.plan.selection import SelectionError, parse_id


def roundtrip(cases):
    assert cases
    for c in cases:
        assert parse_id(c.id) == c, c.id


def test_default_matrix_round_trips():
    roundtrip(plan(Axes(topologies=tuple(topologies.names()), families=None)))


@pytest.mark.parametrize("net", [NetSpec(), NetSpec(PassiveRange(50000, 50004)), NetSpec(forward_none=True)])
def test_tls_and_ipv6_axes_round_trip(net):
    cases = plan(
        Axes(
            topologies=tuple(topologies.names()),
            servers=("pyftpdlib", "vsftpd"),
            clients=("ftplib", "curl"),
            tls=tlsmod.NAMES,
            families=family.NAMES,
            tls_versions=tlsmod.VERSIONS,
            verify_cert=tlsmod.VERIFY,
            transfers=3,
            permit_foreign=("on", "off"),
            reuse=("default", "off"),
            busy=2,
            passive=PassiveRange(50010, 50020),
            net=net,
        )
    )
    assert {c.net.family for c in cases} >= {"ipv4", "ipv6"}
    assert {c.client.tls_version for c in cases} == set(tlsmod.VERSIONS)
    roundtrip(cases)


def test_every_extra_part_is_written_and_read_by_the_same_row():
    case = parse_id("server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off")
    for p in caseid.EXTRAS:
        token = p.token(caseid._spec(case, p.spec))
        assert token is None, f"{p.field} default shows up in the id as {token!r}"
    with pytest.raises(SelectionError, match="unknown part 'bogus-1'"):
        parse_id("server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off/bogus-1")


@pytest.mark.parametrize(
    "net",
    [
        NetSpec(mtu=1400, icmp="drop", mss_clamp=True),
        NetSpec(idle_timeout=30, rate="3mbit"),
        NetSpec(port_map=PassiveRange(60000, 60009)),
        NetSpec(hairpin=True, hairpin_nat=True),
    ],
)
def test_path_and_keepalive_parts_round_trip(net):
    from dataclasses import replace

    case = parse_id("server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off")
    case = replace(case, net=net, client=replace(case.client, keepalive=5))
    assert parse_id(case.id) == case and "keepalive-5" in case.id
