"""A family a firewall leaves unfiltered (harness/build/tracking.py): which boxes, the lab's
tracking table for it, and the trace that ignores that table."""

import os
import shutil
import subprocess
from dataclasses import replace

import pytest

from harness.build import topologies, tracking
from harness.build.topology import Middlebox, RuleSet
from harness.core.case import NetSpec, ServerSpec
from harness.observe.trace import parse


def box(topology: str, name: str, family: str = "ipv4") -> Middlebox:
    host = topologies.build(topology, ServerSpec(), NetSpec(family=family)).host(name)
    assert isinstance(host, Middlebox)
    return host


def test_an_ipv4_only_ruleset_is_blind_to_ipv6_and_only_to_ipv6():
    edge = box("dual-stack-edge", "edge", "ipv6")
    assert tracking.blind(edge, "ipv6") == ("table ip ftpfw",)
    assert tracking.blind(edge, "ipv4") is None
    assert tracking.blind(box("nat64", "nat64", "ipv6"), "ipv6") is None  # table inet sees both
    assert tracking.blind(box("server-nat", "fw", "ipv6"), "ipv6") is None


def test_only_the_blind_box_of_the_cases_family_is_tracked():
    v6 = topologies.build("dual-stack-edge", ServerSpec(), NetSpec(family="ipv6"))
    assert tracking.tracking(v6) == {"edge": tracking.track_table("ipv6")}
    assert tracking.tracking(topologies.build("dual-stack-edge", ServerSpec(), NetSpec(family="ipv4"))) == {}
    assert tracking.tracking(topologies.build("nat64", ServerSpec(), NetSpec(family="ipv6"))) == {}


def test_a_box_without_a_ruleset_is_no_firewall_and_an_iptables_file_is_table_ip():
    edge = box("dual-stack-edge", "edge")
    assert tracking.blind(replace(edge, ruleset=None), "ipv6") is None
    ipt = replace(edge, ruleset=RuleSet("edge", ("../tests/rulesets/edge.ipt",), (), syntax="iptables"))
    assert tracking.tables(ipt) == ("table ip filter", "table ip nat")  # what iptables-nft-restore makes
    assert tracking.blind(ipt, "ipv4") is None and tracking.blind(ipt, "ipv6") is not None


def test_the_tracking_table_filters_nothing_and_asks_for_connection_state():
    text = tracking.track_table("ipv6")
    assert text.startswith("table ip6 fth_track {") and "policy accept;" in text and "ct state new" in text
    assert not any(w in text for w in ("drop", "reject", " accept\n"))
    if os.geteuid() == 0 and shutil.which("nft") and shutil.which("unshare"):
        r = subprocess.run(["unshare", "--net", "nft", "-c", "-f", "-"], input=text, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("verdict", ["continue", "accept"])
def test_the_trace_ignores_the_tracking_table(verdict):
    packet = (
        'iif "wan0" oif "lan0" ip6 saddr 2001:db8:5100::10 ip6 daddr 2001:db8:113::10 '
        "tcp sport 41326 tcp dport 21 tcp flags == syn"
    )
    lines = [
        f"trace id 0a inet fth_trace forward packet: {packet}",
        "trace id 0a inet fth_trace forward policy accept",
        f"trace id 0a ip6 fth_track forward packet: {packet}",
        f"trace id 0a ip6 fth_track forward rule ct state new counter packets 1 bytes 80 (verdict {verdict})",
        "trace id 0a ip6 fth_track forward policy accept",
    ]
    (path,) = parse("edge", lines)
    assert (path.hook, path.dport, path.rules, path.by) == ("forward", 21, (), None)
