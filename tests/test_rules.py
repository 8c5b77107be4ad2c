"""Rules: parsing conntrack lines, deriving rules from recorded observations, rendering.

Pure logic only; the replay proofs run on real namespaces in test_rules_e2e.py.
"""

import subprocess
from pathlib import Path

import pytest

from harness.core.repo import nat_file
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
    _loads(["nft", "-c", "-f", "-"], text)


def _nft_check_possible() -> bool:
    import os
    import shutil

    return os.geteuid() == 0 and shutil.which("nft") is not None and shutil.which("unshare") is not None


def _loads(argv: list[str], text: str) -> None:
    """Check a rendered ruleset with its own loader (nft -c, iptables-restore --test) in a
    scratch network namespace of its own (unshare --net), where root can; else nothing."""
    if _nft_check_possible():
        r = subprocess.run(["unshare", "--net", *argv], input=text, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


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
    _loads(["nft", "-c", "-f", "-"], text)
    ipt = iptables(fw)
    assert "ip6tables-restore" in ipt
    assert (
        "-A PREROUTING -i wan0 -d 2001:db8:113::10/128 -p tcp -m tcp --dport 50000:50009 -j DNAT "
        "--to-destination fd00:2::2" in ipt
    )


NAT64 = "nat64/pyftpdlib/ftplib/none/epsv/n-a/masq-off/ipv6"


def test_a_translators_rules_are_each_in_the_family_of_its_side():
    """tayga's tun device: each connection crosses the forward hook twice, as IPv6 from the
    client into the tun device, then as IPv4 from the tun device to the server; conntrack
    records both (the recording's flows)."""
    fw = derive(load(NAT64))["nat64"]
    assert fw.family == "ipv6"
    sides = {(r.iif, r.oif, r.family(fw.family), r.saddr, r.daddr, r.dports) for r in fw.rules}
    assert sides == {
        ("wan0", "nat64", "ipv6", "2001:db8:5100::10", "2001:db8:64:ff9b::cb00:710a", "21"),
        ("wan0", "nat64", "ipv6", "2001:db8:5100::10", "2001:db8:64:ff9b::cb00:710a", "50000-50009"),
        # the pool tayga takes the client's IPv4 address from, not the one address seen
        ("nat64", "lan0", "ipv4", "192.0.2.128/25", "203.0.113.10", "21"),
        ("nat64", "lan0", "ipv4", "192.0.2.128/25", "203.0.113.10", "50000-50009"),
    }


def test_a_translators_rules_render_one_family_per_rule_in_one_inet_table():
    fw = derive(load(NAT64))["nat64"]
    text = nft(fw)
    assert text.count("table inet ftpfw {") == 1
    assert (
        'iifname "wan0" oifname "nat64" ip6 saddr 2001:db8:5100::10 ip6 daddr 2001:db8:64:ff9b::cb00:710a '
        "tcp dport 21 accept" in text
    )
    assert 'iifname "nat64" oifname "lan0" ip saddr 192.0.2.128/25 ip daddr 203.0.113.10 tcp dport 21 accept' in text
    for line in text.splitlines():  # nft refuses an IPv4 address after ip6 (and the reverse)
        assert not ("ip6 " in line and ("ip saddr" in line or "ip daddr" in line)), line
    _loads(["nft", "-c", "-f", "-"], text)


def test_a_translators_rules_in_iptables_form_are_one_section_per_family():
    fw = derive(load(NAT64))["nat64"]
    v6, _, v4 = iptables(fw).partition("# the IPv4 side")
    assert "# the IPv6 side" in v6 and "ip6tables-save format" in v6 and "iptables-save format" in v4
    assert "-s 2001:db8:5100::10/128 -d 2001:db8:64:ff9b::cb00:710a/128" in v6 and "192.0.2" not in v6
    assert "-i nat64 -o lan0 -s 192.0.2.128/25 -d 203.0.113.10/32" in v4 and "2001:" not in v4
    _loads(["ip6tables-restore", "--test"], v6)
    _loads(["iptables-restore", "--test"], v4)


def test_rules_keep_their_family_through_results_json():
    fw = derive(load(NAT64))["nat64"]
    back = FirewallRules.from_json(fw.box, fw.topology, fw.to_json())
    assert back.family == "ipv6" and nft(back) == nft(fw)


EDGE6 = "dual-stack-edge/pyftpdlib/ftplib/none/epsv/n-a/masq-off/ipv6"


def test_rules_for_the_family_a_box_leaves_unfiltered_come_from_the_tracked_flows():
    fw = derive(load(EDGE6))["edge"]
    assert fw.unfiltered and fw.family == "ipv6"
    assert {(r.kind, r.iif, r.oif, r.saddr, r.daddr, r.dports) for r in fw.rules} == {
        ("filter", "wan0", "lan0", "2001:db8:5100::10", "2001:db8:113::10", "21"),
        ("filter", "wan0", "lan0", "2001:db8:5100::10", "2001:db8:113::10", "50000-50009"),
    }
    assert not derive(load("dual-stack-edge/pyftpdlib/ftplib/none/eprt/n-a/masq-off"))["edge"].unfiltered


def test_unfiltered_family_rules_render_as_a_table_of_that_family_next_to_the_boxs_own():
    obs = load(EDGE6)
    fw = derive(obs)["edge"]
    text = nft(fw)
    assert "table ip6 ftpfw_ipv6 {" in text and "table inet" not in text
    assert "# edge leaves IPv6 unfiltered today; these are the rules a filter would need." in text
    own = obs.topology.host("edge").ruleset.render(nat_file)
    assert "table ip ftpfw {" in own
    _loads(["nft", "-c", "-f", "-"], own + "\n" + text)  # as the proof loads them: both at once
    ipt = iptables(fw)
    assert "ip6tables-save format" in ipt and "# the IPv4 side" not in ipt
    back = FirewallRules.from_json(fw.box, fw.topology, fw.to_json())
    assert back.unfiltered and nft(back) == text
