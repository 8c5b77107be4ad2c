"""Rules: parsing conntrack lines, deriving rules from recorded observations, rendering.

Pure logic only; the replay proofs run on real namespaces in test_rules_e2e.py.
"""

import subprocess
from pathlib import Path

import pytest

from harness.judge import checks
from harness.judge.rules import FirewallRules, Rule
from harness.judge.rules.derive import derive
from harness.judge.rules.render import iptables, markdown_table, nft, table
from harness.observe import recording
from harness.observe.flows import parse_expectation, parse_flow

FIX = Path(__file__).parent / "fixtures" / "observations"

NEW_DNAT = (
    "[NEW] tcp      6 120 SYN_SENT src=203.0.113.100 dst=203.0.113.10 sport=46678 dport=21 "
    "[UNREPLIED] src=10.0.2.2 dst=203.0.113.100 sport=21 dport=46678"
)
EXPECT = (
    "[NEW] 300 proto=6 src=203.0.113.10 dst=203.0.113.100 sport=0 dport=44109 "
    "mask-src=255.255.255.255 mask-dst=255.255.255.255 sport=0 dport=65535 "
    "master-src=10.0.1.2 master-dst=203.0.113.10 sport=51822 dport=21 class=0 helper=ftp"
)


def load(case_id: str):
    return recording.load(FIX / (case_id.replace("/", "__") + ".json"))


def test_conntrack_new_line_reveals_dnat():
    f = parse_flow("fw", NEW_DNAT)
    assert (f.src, f.dst, f.dport) == ("203.0.113.100", "203.0.113.10", 21)
    assert f.dnat and not f.snat and (f.real_dst, f.real_dport) == ("10.0.2.2", 21)


def test_expectation_line_takes_the_expected_tuple_not_the_mask_or_master():
    e = parse_expectation("fw", EXPECT)
    assert (e.src, e.dst, e.dport) == ("203.0.113.10", "203.0.113.100", 44109)


@pytest.mark.parametrize(
    "line",
    [
        "",
        "[DESTROY] tcp 6 src=1.2.3.4",
        "[NEW] icmp 1 30 src=1.1.1.1 dst=2.2.2.2",
        "[NEW] tcp 6 120 SYN_SENT src=1.1.1.1 dst=2.2.2.2 sport=x dport=1",
    ],
)
def test_other_lines_are_ignored(line):
    assert parse_flow("fw", line) is None


def rules_of(case_id: str) -> list[Rule]:
    return derive(load(case_id))["fw"].rules


def test_server_nat_epsv_needs_control_and_passive_range_forwards():
    rules = rules_of("server-nat/pyftpdlib/ftplib/implicit/epsv/n-a/masq-off")
    assert [(r.kind, r.dports, r.to) for r in rules] == [
        ("dnat", "990", "10.0.2.2"),
        ("dnat", "50000-50009", "10.0.2.2"),
        ("filter", "990", None),
        ("filter", "50000-50009", None),
    ]
    assert all(r.daddr == "10.0.2.2" and r.saddr == "203.0.113.100" for r in rules if r.kind == "filter")


def test_helper_pinhole_becomes_a_helper_rule_not_an_open_range():
    rules = rules_of("server-nat-alg/pyftpdlib/ftplib/none/pasv/trust/masq-off")
    kinds = [(r.kind, r.dports) for r in rules]
    assert ("helper", "21") in kinds
    assert not any(r.dports == "50000-50009" for r in rules)


def test_active_mode_from_server_is_flagged_wide_open_and_masqueraded():
    rules = rules_of("server-nat/pyftpdlib/ftplib/none/port/n-a/masq-off")
    active = [r for r in rules if r.wide_open]
    assert active and all(r.dports == "32768-60999" for r in active)
    assert any(r.kind == "snat" and r.saddr == "10.0.2.0/24" for r in rules)


def test_client_nat_outbound_needs_masquerade_and_outbound_allows():
    rules = rules_of("client-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-off")
    assert ("snat", "10.0.1.0/24", "wan0") in [(r.kind, r.saddr, r.oif) for r in rules]
    assert {r.dports for r in rules if r.kind == "filter"} == {"21", "50000-50009"}
    assert all(r.iif == "lan0" and r.oif == "wan0" for r in rules if r.kind == "filter")


def test_nft_rendering_loads_as_written():
    fw = derive(load("server-nat-alg/pyftpdlib/ftplib/none/pasv/trust/masq-off"))["fw"]
    text = nft(fw)
    assert "policy drop" in text and 'ct helper set "ftp-std"' in text
    r = (
        subprocess.run(["nft", "-c", "-f", "-"], input=text, capture_output=True, text=True)
        if _nft_check_possible()
        else None
    )
    if r is not None:
        assert r.returncode == 0, r.stderr


def _nft_check_possible() -> bool:
    import os
    import shutil

    return os.geteuid() == 0 and shutil.which("nft") is not None


def test_iptables_and_table_forms():
    fw = derive(load("server-nat/pyftpdlib/ftplib/implicit/epsv/n-a/masq-off"))["fw"]
    ipt = iptables(fw)
    assert (
        "-A PREROUTING -i wan0 -d 203.0.113.10/32 -p tcp -m tcp --dport 50000:50009 -j DNAT "
        "--to-destination 10.0.2.2" in ipt
    )
    assert ":FORWARD DROP [0:0]" in ipt and ipt.count("COMMIT") == 2
    t = table(fw)
    assert "passive data range 50000-50009" in t and t.splitlines()[0].startswith("firewall")
    assert markdown_table(fw).count("\n") == 2 + len(fw.rules)


def test_identical_rule_sets_share_a_signature():
    a = derive(load("server-nat/pyftpdlib/ftplib/implicit/epsv/n-a/masq-off"))["fw"]
    b = FirewallRules(a.box, a.topology, list(a.rules))
    assert a.signature() == b.signature() and a.without(0).signature() != a.signature()


def test_range_mismatch_names_both_ranges():
    v = checks.judge(load("server-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on/fwd-50100-50109"))
    assert v.check == "passive-range-not-forwarded" and v.stage == "data-connect"
    assert "50000-50009" in v.diagnosis and "50100-50109" in v.diagnosis


def test_range_exhaustion_shows_the_port_outside_the_range():
    v = checks.judge(load("server-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on/range-50000-50001/busy-2"))
    assert v.check == "passive-port-outside-range"
    port = v.evidence.data_connections[-1].advertised_port
    assert not 50000 <= port <= 50001 and str(port) in v.diagnosis and "50000-50001" in v.diagnosis


def test_ipv6_rules_render_in_ip6_and_ip6tables_form():
    fw = derive(load("server-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-off/ipv6"))["fw"]
    assert fw.family == "ipv6" and fw.topology == "server-nat ipv6"
    text = nft(fw)
    assert 'iifname "wan0" ip6 daddr 2001:db8:113::10 tcp dport 21 dnat ip6 to fd00:2::2' in text
    assert " ip daddr" not in text and " ip saddr" not in text
    if _nft_check_possible():
        r = subprocess.run(["nft", "-c", "-f", "-"], input=text, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    ipt = iptables(fw)
    assert "ip6tables-restore" in ipt
    assert (
        "-A PREROUTING -i wan0 -d 2001:db8:113::10/128 -p tcp -m tcp --dport 50000:50009 -j DNAT "
        "--to-destination fd00:2::2" in ipt
    )
