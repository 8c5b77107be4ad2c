"""IPv6 verdicts on observations recorded in real IPv6 labs (pyftpdlib server, ftplib probe)."""

from pathlib import Path

from harness.judge import checks
from harness.judge.evidence import control_pairs
from harness.observe import recording

FIX = Path(__file__).parent / "fixtures" / "observations"


def judge(case_id: str):
    return checks.judge(recording.load(FIX / (case_id.replace("/", "__") + ".json")))


def test_pasv_over_ipv6_fails_with_the_servers_own_227():
    v = judge("direct/pyftpdlib/ftplib/none/pasv/trust/masq-off/ipv6")
    assert (v.outcome, v.stage, v.check) == ("fail", "data-setup", "ipv4-only-line")
    assert "'227 Entering passive mode (2001:db8:113::10," in v.diagnosis
    assert "four decimal bytes" in v.diagnosis and "EPSV" in v.diagnosis
    assert "not a valid 227 reply" in v.diagnosis


def test_the_helper_swallows_a_227_with_an_ipv6_address():
    v = judge("server-nat-alg/pyftpdlib/ftplib/none/pasv/trust/masq-off/ipv6")
    assert (v.outcome, v.check) == ("fail", "ipv4-only-line")
    assert "never received it" in v.diagnosis and "fd00:2::2" in v.diagnosis and "on fw" in v.diagnosis


def test_helper_respells_eprt_and_the_server_refuses_its_own_peer():
    v = judge("server-nat-alg/pyftpdlib/ftplib/none/eprt/n-a/masq-off/ipv6")
    assert (v.outcome, v.check) == ("fail", "address-respelled")
    assert "2001:0db8:0113:0000:0000:0000:0000:0100" in v.diagnosis and "the same address" in v.diagnosis
    v = judge("client-nat-alg/pyftpdlib/ftplib/none/eprt/n-a/masq-off/ipv6")
    assert v.check == "address-respelled" and "translates the client to" in v.diagnosis


def test_a_ula_address_in_eprt_is_foreign_to_the_server():
    v = judge("client-nat/pyftpdlib/ftplib/none/eprt/n-a/masq-off/ipv6")
    assert (v.outcome, v.check) == ("fail", "foreign-address")
    assert "fd00:1::2" in v.diagnosis and "2001:db8:113::100" in v.diagnosis


def test_epsv_through_nat66_passes():
    obs = recording.load(FIX / "server-nat__pyftpdlib__ftplib__explicit__epsv__n-a__masq-off__ipv6.json")
    assert obs.case.net.family == "ipv6" and obs.topology.server_public == "2001:db8:113::10"
    assert checks.judge(obs).outcome == "pass"


def test_each_real_server_answers_pasv_over_ipv6_its_own_way():
    # vsftpd: a 227 with 0.0.0.0; ProFTPD: a 227 with what follows the last ':' of its
    # address; Pure-FTPd: a refusal. Each verdict quotes the server's own reply.
    v = judge("direct/vsftpd/ftplib-reuse/none/pasv/trust/masq-off/ipv6")
    assert v.check == "ipv4-only-line" and "(0,0,0,0," in v.diagnosis and "0.0.0.0" in v.diagnosis
    v = judge("direct/proftpd/ftplib-reuse/none/pasv/trust/masq-off/ipv6")
    assert v.check == "ipv4-only-line" and "not a valid 227 reply" in v.diagnosis
    v = judge("direct/pure-ftpd/ftplib-reuse/none/pasv/trust/masq-off/ipv6")
    assert (v.outcome, v.check) == ("fail", "ipv4-only-line")
    assert "'425 You cannot use PASV on IPv6 connections. Use EPSV instead.'" in v.diagnosis


def test_a_client_that_sends_epsv_when_asked_for_pasv_is_a_skip():
    v = judge("server-nat-alg/vsftpd/curl/none/pasv/trust/masq-off/ipv6")
    assert (v.outcome, v.check) == ("skip", "not-expressible")
    assert "sent EPSV instead" in v.diagnosis
    v = judge("server-nat-alg/vsftpd/curl/none/port/n-a/masq-off/ipv6")
    assert v.outcome == "skip" and "sent EPRT instead" in v.diagnosis
    assert v.evidence.sent_instead.startswith("EPRT |2|2001:db8:113::100|")


def test_vsftpd_accepts_the_helpers_full_length_eprt():
    obs = recording.load(FIX / "server-nat-alg__vsftpd__curl__none__port__n-a__masq-off__ipv6.json")
    tampered = [p for p in control_pairs(obs) if p.tampered]
    assert tampered and "2001:0db8:0113:0000:0000:0000:0000:0100" in tampered[0].received
    assert obs.client.ok is True


def test_an_ipv4_only_ruleset_leaves_ipv6_unfiltered_and_says_so():
    v = judge("dual-stack-edge/pyftpdlib/ftplib/none/eprt/n-a/masq-off/ipv6")
    assert v.outcome == "pass" and "SECURITY: IPv6 UNFILTERED on edge" in v.diagnosis
    assert v.evidence.unfiltered["edge"].tables == ("table ip ftpfw",)
    # The same mode over IPv4, through the same firewall: refused by the rules IPv6 never meets.
    v4 = judge("dual-stack-edge/pyftpdlib/ftplib/none/eprt/n-a/masq-off")
    assert v4.outcome == "fail" and "edge rejected" in v4.diagnosis
    assert not v4.evidence.unfiltered


def test_the_labs_tracking_table_lets_conntrack_see_the_unfiltered_family_and_says_so():
    """Recorded with the lab's tracking table on edge (harness/build/tracking.py): the same
    verdict, and the note says whose table made conntrack record the connections."""
    v = judge("dual-stack-edge/pyftpdlib/ftplib/none/epsv/n-a/masq-off/ipv6")
    assert (v.outcome, v.check) == ("pass", "passed") and "SECURITY: IPv6 UNFILTERED on edge" in v.diagnosis
    assert "the harness's tracking table made conntrack record 4 of its connections" in v.diagnosis
    u = v.evidence.unfiltered["edge"]
    assert u.tables == ("table ip ftpfw",) and u.conntrack[0].startswith("tcp 2001:db8:5100::10:")


def test_eprt_through_nat64_reaches_an_ipv4_only_server_that_refuses_it():
    v = judge("nat64/pyftpdlib/ftplib/none/eprt/n-a/masq-off/ipv6")
    assert (v.outcome, v.check) == ("fail", "family-mismatch")
    assert "'522 Network protocol not supported (use 1).'" in v.diagnosis and "nat64" in v.diagnosis


def test_pasv_through_nat64_advertises_an_ipv4_address_the_client_cannot_use():
    v = judge("nat64/pyftpdlib/ftplib/none/pasv/trust/masq-off/ipv6")
    assert (v.outcome, v.stage, v.check) == ("fail", "data-connect", "ipv4-only-line")
    assert "(203,0,113,10," in v.diagnosis and "Network is unreachable" in v.diagnosis


def test_a_server_without_a_transcript_is_seen_through_the_translators_conntrack():
    # Pure-FTPd logs no control lines: the address it sees comes from the IPv4 flow on nat64.
    v = judge("nat64/pure-ftpd/lftp/none/port/n-a/masq-off/ipv6")
    assert (v.outcome, v.check) == ("fail", "family-mismatch")
    assert "192.0.2.244" in v.diagnosis and "I won't open a connection" in v.diagnosis


def test_the_server_refused_an_active_connection_by_the_firewall_is_data_connect():
    v = judge("dual-stack-edge/pyftpdlib/ftplib/none/eprt/n-a/masq-off")
    assert (v.outcome, v.stage, v.check) == ("fail", "data-connect", "active-connect-failed")
