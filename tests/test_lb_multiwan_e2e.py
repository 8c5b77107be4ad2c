"""The "IP addresses do not match" family, with real HAProxy, real nft NAT balancing,
real multi-uplink SNAT and a real two-firewall server."""

import pytest

pytestmark = pytest.mark.netns

EPSV = "pyftpdlib/ftplib/explicit/epsv/n-a/masq-on"
PASV_TRUST = "pyftpdlib/ftplib/explicit/pasv/trust/masq-on"


def test_haproxy_round_robin_splits_control_and_data_and_source_balance_keeps_them(matrix):
    cases = matrix("--topology", "lb-roundrobin,lb-source", "--tls", "explicit", "--mode", "epsv", "--masquerade", "on")
    rr = cases[f"lb-roundrobin/{EPSV}"]
    assert rr["outcome"] == "fail" and rr["check"] == "balanced-to-another-backend"
    assert "landed on backend s1 (10.0.3.11)" in rr["diagnosis"]
    assert "balanced to s2 (10.0.3.12)" in rr["diagnosis"]
    assert any("ftp_servers/s2" in l for l in rr["evidence"]["middlebox_log"]["lb"])
    src = cases[f"lb-source/{EPSV}"]
    assert src["outcome"] == "pass" and src["rules_verified"]
    assert {r["kind"] for r in src["rules"]["lb"]["rules"]} == {"input"}


def test_nft_round_robin_is_deterministic_and_names_the_backends(matrix):
    first = matrix(
        "--topology", "lb-nft-roundrobin,lb-nft-source", "--tls", "none", "--mode", "epsv", "--masquerade", "on"
    )
    again = matrix(
        "--topology", "lb-nft-roundrobin,lb-nft-source", "--tls", "none", "--mode", "epsv", "--masquerade", "on"
    )
    rr = first["lb-nft-roundrobin/pyftpdlib/ftplib/none/epsv/n-a/masq-on"]
    assert rr["check"] == "balanced-to-another-backend" and "s1" in rr["diagnosis"] and "s2" in rr["diagnosis"]
    assert first["lb-nft-source/pyftpdlib/ftplib/none/epsv/n-a/masq-on"]["outcome"] == "pass"
    assert {k: (c["outcome"], c["stage"]) for k, c in first.items()} == {
        k: (c["outcome"], c["stage"]) for k, c in again.items()
    }


def test_multiwan_data_from_the_other_uplink_is_refused_naming_both_addresses(matrix):
    cases = matrix(
        "--topology",
        "client-multiwan,client-multiwan-sticky",
        "--tls",
        "explicit",
        "--mode",
        "epsv",
        "--masquerade",
        "on",
        "--permit-foreign-addresses",
        "off,on",
    )
    bad = cases[f"client-multiwan/{EPSV}"]
    assert (bad["outcome"], bad["stage"], bad["check"]) == ("fail", "data-connect", "foreign-address")
    assert "203.0.113.100" in bad["diagnosis"] and "203.0.113.101" in bad["diagnosis"]
    assert "425" in bad["diagnosis"]
    weak = cases[f"client-multiwan/{EPSV}/permit-foreign"]
    assert weak["outcome"] == "pass" and "SECURITY WEAKENED" in weak["diagnosis"]
    assert weak["evidence"]["security_weakened"]
    assert cases[f"client-multiwan-sticky/{EPSV}"]["outcome"] == "pass"
    assert "security_weakened" not in cases[f"client-multiwan-sticky/{EPSV}"]["evidence"]


def test_multihomed_server_asymmetry_and_both_fixes(matrix):
    cases = matrix(
        "--topology",
        "server-multihomed,server-multihomed-map,server-multihomed-route,server-multihomed-pbr",
        "--tls",
        "explicit",
        "--mode",
        "pasv,epsv",
        "--pasv-address",
        "trust",
        "--masquerade",
        "on",
    )
    bad = cases[f"server-multihomed/{PASV_TRUST}"]
    assert (bad["stage"], bad["check"]) == ("data-connect", "asymmetric-route")
    assert "203.0.113.20" in bad["diagnosis"] and "fwa" in bad["diagnosis"] and "fwb" in bad["diagnosis"]
    assert cases[f"server-multihomed/{EPSV}"]["outcome"] == "pass"
    assert cases[f"server-multihomed-map/{PASV_TRUST}"]["outcome"] == "pass"
    route = cases[f"server-multihomed-route/{EPSV}"]
    assert (route["stage"], route["check"]) == ("connect", "asymmetric-route")
    assert "fwb dropped" in route["diagnosis"]
    assert cases[f"server-multihomed-pbr/{PASV_TRUST}"]["outcome"] == "pass"
    assert cases[f"server-multihomed-pbr/{EPSV}"]["outcome"] == "pass"
