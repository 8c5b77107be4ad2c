"""The five core topologies in IPv6, on real namespaces: 2001:db8::/32 as the internet,
fd00::/8 inside, NAT66 and the kernel's FTP helper in ip6. Each assertion is what a real
run showed (docs/ipv6.md)."""

import json

import pytest
from conftest import harness

pytestmark = pytest.mark.netns

CORE = "direct,server-nat,server-nat-alg,client-nat,client-nat-alg"


@pytest.fixture(scope="module")
def v6(tmp_path_factory):
    out = tmp_path_factory.mktemp("ipv6") / "results.json"
    r = harness(
        "matrix",
        "--topology",
        CORE,
        "--family",
        "ipv6",
        "--tls",
        "none,explicit",
        "--mode",
        "pasv,epsv,port,eprt",
        "--pasv-address",
        "trust",
        "--masquerade",
        "off",
        "--json",
        str(out),
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return {c["id"]: c for c in json.loads(out.read_text())["cases"]}


def case(v6, topo, tls, mode):
    pol = "trust" if mode == "pasv" else "n-a"
    return v6[f"{topo}/pyftpdlib/ftplib/{tls}/{mode}/{pol}/masq-off/ipv6"]


@pytest.mark.parametrize("topo", CORE.split(","))
def test_epsv_passes_in_every_core_topology(v6, topo):
    for tls in ("none", "explicit"):
        c = case(v6, topo, tls, "epsv")
        assert c["outcome"] == "pass" and c["family"] == "ipv6", c["diagnosis"]


@pytest.mark.parametrize("topo", CORE.split(","))
def test_port_is_a_skip_ftplib_cannot_express(v6, topo):
    c = case(v6, topo, "none", "port")
    assert c["outcome"] == "skip" and "four decimal bytes" in c["diagnosis"]


def test_pasv_fails_with_the_servers_own_227(v6):
    c = case(v6, "direct", "explicit", "pasv")
    assert (c["outcome"], c["stage"], c["check"]) == ("fail", "data-setup", "ipv4-only-line")
    assert "'227 Entering passive mode (2001:db8:113::10," in c["diagnosis"]


def test_the_helper_swallows_a_227_it_cannot_parse(v6):
    c = case(v6, "server-nat-alg", "none", "pasv")
    assert (c["outcome"], c["check"]) == ("fail", "ipv4-only-line")
    assert "never received it" in c["diagnosis"]


def test_eprt_through_the_ipv6_helper_is_respelled_and_refused(v6):
    for topo in ("server-nat-alg", "client-nat-alg"):
        c = case(v6, topo, "none", "eprt")
        assert (c["outcome"], c["check"]) == ("fail", "address-respelled"), c["diagnosis"]
        assert "0000:0000" in c["diagnosis"]
    # TLS hides EPRT from the helper: nothing is rewritten, so server-nat-alg passes.
    assert case(v6, "server-nat-alg", "explicit", "eprt")["outcome"] == "pass"


def test_a_ula_client_behind_nat66_announces_a_foreign_address(v6):
    c = case(v6, "client-nat", "none", "eprt")
    assert (c["outcome"], c["check"]) == ("fail", "foreign-address")
    assert "fd00:1::2" in c["diagnosis"]


def test_nat64_passes_epsv_and_refuses_active_mode(tmp_path):
    out = tmp_path / "nat64.json"
    r = harness(
        "matrix",
        "--topology",
        "nat64",
        "--tls",
        "explicit",
        "--mode",
        "epsv,eprt",
        "--masquerade",
        "off",
        "--json",
        str(out),
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    cases = {c["mode"]: c for c in json.loads(out.read_text())["cases"]}
    assert cases["epsv"]["outcome"] == "pass" and cases["epsv"]["family"] == "ipv6"
    assert cases["eprt"]["check"] == "family-mismatch"


def test_dual_stack_edge_ipv6_is_unfiltered_where_ipv4_is_refused(tmp_path):
    out = tmp_path / "edge.json"
    r = harness(
        "matrix",
        "--topology",
        "dual-stack-edge",
        "--family",
        "ipv4,ipv6",
        "--tls",
        "none",
        "--mode",
        "eprt",
        "--masquerade",
        "off",
        "--json",
        str(out),
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    cases = {c["family"]: c for c in json.loads(out.read_text())["cases"]}
    assert cases["ipv4"]["outcome"] == "fail" and "edge rejected" in cases["ipv4"]["diagnosis"]
    assert cases["ipv6"]["outcome"] == "pass" and "SECURITY: IPv6 UNFILTERED" in cases["ipv6"]["diagnosis"]


def test_real_servers_listen_on_ipv6_and_answer_pasv_in_their_own_words(tmp_path):
    out = tmp_path / "peers.json"
    r = harness(
        "matrix",
        "--topology",
        "direct",
        "--family",
        "ipv6",
        "--server",
        "vsftpd,proftpd,pure-ftpd",
        "--client",
        "ftplib-reuse,curl",
        "--tls",
        "explicit",
        "--mode",
        "pasv,epsv",
        "--pasv-address",
        "trust",
        "--masquerade",
        "off",
        "--no-rules",
        "--json",
        str(out),
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    cases = {(c["server"], c["client"], c["mode"]): c for c in json.loads(out.read_text())["cases"]}
    for srv in ("vsftpd", "proftpd", "pure-ftpd"):
        assert cases[(srv, "ftplib-reuse", "epsv")]["outcome"] == "pass"  # dual-stack listeners
        assert cases[(srv, "ftplib-reuse", "pasv")]["check"] == "ipv4-only-line"
        assert cases[(srv, "curl", "pasv")]["check"] == "not-expressible"  # curl sent EPSV
    assert "You cannot use PASV on IPv6 connections" in cases[("pure-ftpd", "ftplib-reuse", "pasv")]["diagnosis"]
