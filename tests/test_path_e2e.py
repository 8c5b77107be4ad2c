"""Path impairments on real namespaces: each fails, named by its own check, and each fix
that applies passes (docs/path.md). Scaled down: a case ends within seconds."""

import pytest

pytestmark = pytest.mark.netns

BASE = ("--topology", "server-nat", "--tls", "explicit", "--mode", "epsv", "--masquerade", "on")


def one(cases: dict) -> dict:
    (case,) = cases.values()
    return case


def test_idle_timeout_fails_at_completion_and_keepalive_or_a_longer_timeout_fix_it(matrix):
    idle = ("--idle-timeout", "2", "--rate", "3mbit", "--no-rules")
    case = one(matrix(*BASE, *idle))
    assert (case["outcome"], case["stage"], case["check"]) == ("fail", "completion", "control-idle-timeout")
    assert "dport=21" in case["evidence"]["conntrack_destroyed"]["fw"][-1]
    assert one(matrix(*BASE, *idle, "--keepalive", "1"))["outcome"] == "pass"
    assert one(matrix(*BASE, "--idle-timeout", "60", "--rate", "3mbit", "--no-rules"))["outcome"] == "pass"


def test_pmtu_black_hole_and_the_clamp_proven_needed_in_the_derived_rules(matrix):
    case = one(matrix(*BASE, "--mtu", "1400", "--icmp", "drop", "--no-rules"))
    assert (case["outcome"], case["check"]) == ("fail", "pmtu-black-hole")
    assert "path-icmp-drop.nft" in case["evidence"]["trace_dropped_icmp"]["fw"][-1]  # the rule the trace names
    assert one(matrix(*BASE, "--mtu", "1400", "--no-rules"))["outcome"] == "pass"  # ICMP allowed
    clamped = one(matrix(*BASE, "--mtu", "1400", "--icmp", "drop", "--mss-clamp", "--prove-minimal"))
    assert clamped["outcome"] == "pass" and clamped["rules_verified"] and clamped["rules_minimal"]
    fw = clamped["rules"]["fw"]
    (clamp,) = [r for r in fw["rules"] if r["kind"] == "clamp"]
    assert "pmtu-black-hole" in clamp["without_it"] or "black hole" in clamp["without_it"]
    assert "tcp option maxseg size set rt mtu" in fw["nft"] and "TCPMSS" in fw["iptables"]


def test_hairpin_missing_and_hairpin_nat(matrix):
    case = one(matrix(*BASE, "--hairpin", "--no-rules"))
    assert (case["outcome"], case["stage"], case["check"]) == ("fail", "connect", "hairpin-missing")
    assert one(matrix(*BASE, "--hairpin", "--hairpin-nat", "--no-rules"))["outcome"] == "pass"


def test_translated_passive_ports_and_the_helper_for_plain_ftp_only(matrix):
    args = (
        "--mode",
        "epsv",
        "--masquerade",
        "off",
        "--tls",
        "none,explicit",
        "--port-map",
        "30000-30009",
        "--no-rules",
    )
    cases = matrix("--topology", "server-nat", *args)
    assert {c["check"] for c in cases.values()} == {"passive-port-translated"}
    helped = matrix("--topology", "server-nat-alg", *args)
    assert {c["tls"]: c["outcome"] for c in helped.values()} == {"none": "pass", "explicit": "fail"}
