"""Replay proofs with real nft: each topology family's derived rules pass, and minimality holds."""

import pytest

pytestmark = pytest.mark.netns


def fw_rules(case: dict, box: str | None = None) -> dict:
    (fw,) = case["rules"].values() if box is None else (case["rules"][box],)
    return fw


def test_server_nat_explicit_epsv_needs_exactly_control_and_passive_range(matrix):
    cases = matrix(
        "--topology", "server-nat", "--tls", "explicit", "--mode", "epsv", "--masquerade", "off", "--prove-minimal"
    )
    (case,) = cases.values()
    fw = fw_rules(case)
    assert case["rules_verified"] and case["rules_minimal"] and fw["not_needed"] == []
    got = sorted((r["kind"], r["dports"]) for r in fw["rules"])
    assert got == [("dnat", "21"), ("dnat", "50000-50009"), ("filter", "21"), ("filter", "50000-50009")]
    passive = next(r for r in fw["rules"] if r["kind"] == "filter" and r["dports"] == "50000-50009")
    assert passive["without_it"].startswith("data-connect:")
    assert "table inet ftpfw" in fw["nft"] and "--dport 50000:50009" in fw["iptables"]


def test_client_nat_alg_plain_port_depends_on_the_helper(matrix):
    cases = matrix(
        "--topology", "client-nat-alg", "--tls", "none", "--mode", "port", "--masquerade", "off", "--prove-minimal"
    )
    (case,) = cases.values()
    fw = fw_rules(case)
    assert case["rules_verified"] and case["rules_minimal"]
    helper = [r for r in fw["rules"] if r["kind"] == "helper"]
    assert helper and "data" in helper[0]["without_it"]
    assert not any(r.get("wide_open") for r in fw["rules"]), "the helper avoids opening ports"


def test_direct_router_rules_verify_for_every_mode(matrix):
    cases = matrix("--topology", "direct", "--tls", "implicit", "--masquerade", "on")
    assert all(c["outcome"] == "pass" and c["rules_verified"] for c in cases.values())
    active = cases["direct/pyftpdlib/ftplib/implicit/port/n-a/masq-on"]
    assert any(r.get("wide_open") for r in fw_rules(active)["rules"])


def test_range_scenarios_are_reported_with_their_cause(matrix):
    mismatch = matrix(
        "--topology",
        "server-nat",
        "--tls",
        "explicit",
        "--mode",
        "epsv",
        "--masquerade",
        "on",
        "--forward-range",
        "50100-50109",
    )
    (c,) = mismatch.values()
    assert c["stage"] == "data-connect" and "50100-50109" in c["diagnosis"] and "50000-50009" in c["diagnosis"]
    busy = matrix(
        "--topology",
        "server-nat",
        "--tls",
        "explicit",
        "--mode",
        "pasv",
        "--pasv-address",
        "control",
        "--masquerade",
        "on",
        "--passive-range",
        "50000-50001",
        "--busy-sessions",
        "2",
    )
    (c,) = busy.values()
    assert c["check"] == "passive-port-outside-range" and "outside its configured passive range" in c["diagnosis"]


def test_nat64_rules_are_verified_for_every_passing_case(matrix):
    """tayga's two sides, each in its own family in one table inet: nft loads them and every
    passing case passes through them alone."""
    cases = matrix("--topology", "nat64", "--family", "ipv6")
    passing = [c for c in cases.values() if c["outcome"] == "pass"]
    assert passing and all(c["rules_verified"] for c in passing), [
        (c["id"], fw_rules(c)["error"]) for c in passing if not c["rules_verified"]
    ]
    fw = fw_rules(passing[0])
    assert {(r["iif"], r["oif"]) for r in fw["rules"]} == {("wan0", "nat64"), ("nat64", "lan0")}
    assert "ip6 saddr 2001:db8:5100::10" in fw["nft"] and "ip saddr 192.0.2.128/25" in fw["nft"]


def test_nat64_needs_each_side_of_the_translator(matrix):
    cases = matrix(
        "--topology", "nat64", "--family", "ipv6", "--tls", "explicit", "--mode", "epsv", "--masquerade", "off",
        "--prove-minimal",
    )  # fmt: skip
    (case,) = cases.values()
    fw = fw_rules(case)
    assert case["rules_verified"] and case["rules_minimal"] and fw["not_needed"] == []
    assert len(fw["rules"]) == 4 and all(r["without_it"] for r in fw["rules"])


def test_dual_stack_edge_ipv6_gets_the_rules_a_filter_would_need(matrix):
    """The edge's own rules are table ip only: IPv6 is unfiltered (pass!), the lab's tracking
    table lets conntrack see it, and the IPv6 rules are proven next to the edge's own ruleset."""
    cases = matrix("--topology", "dual-stack-edge", "--family", "ipv6")
    passing = [c for c in cases.values() if c["outcome"] == "pass"]
    assert passing and all(c["rules_verified"] for c in passing), [
        (c["id"], c.get("rules")) for c in passing if not c.get("rules_verified")
    ]
    for c in passing:
        fw = fw_rules(c, "edge")
        assert fw["unfiltered"] and "table ip6 ftpfw_ipv6 {" in fw["nft"]
        assert "SECURITY: IPv6 UNFILTERED on edge" in c["diagnosis"]
    eprt = cases["dual-stack-edge/pyftpdlib/ftplib/none/eprt/n-a/masq-off/ipv6"]
    assert any(r.get("wide_open") for r in fw_rules(eprt)["rules"])  # what the IPv4 rules refuse


def test_dual_stack_edge_ipv6_rules_are_each_needed_with_ipv6_filtered(matrix):
    cases = matrix(
        "--topology", "dual-stack-edge", "--family", "ipv6", "--tls", "explicit", "--mode", "epsv",
        "--masquerade", "off", "--prove-minimal",
    )  # fmt: skip
    (case,) = cases.values()
    fw = fw_rules(case)
    assert case["rules_verified"] and case["rules_minimal"] and fw["not_needed"] == []
    assert sorted(r["dports"] for r in fw["rules"]) == ["21", "50000-50009"]
    assert all(r["without_it"].startswith(("connect:", "data-connect:")) for r in fw["rules"])
