"""Verdict checks on recorded observations from real runs: no network needed.

The fixtures were recorded with `python -m harness matrix --record DIR` on real namespaces.
"""

from dataclasses import replace
from pathlib import Path

import pytest

from harness.judge import checks
from harness.observe import recording
from harness.observe.observation import ClientReport, Failure

FIX = Path(__file__).parent / "fixtures" / "observations"


def load(case_id: str):
    return recording.load(FIX / (case_id.replace("/", "__") + ".json"))


def test_private_pasv_address_through_nat_is_diagnosed_with_addresses():
    v = checks.judge(load("server-nat/pyftpdlib/ftplib/none/pasv/trust/masq-off"))
    assert (v.outcome, v.stage, v.check) == ("fail", "data-connect", "advertised-address-unreachable")
    assert "10.0.2.2:500" in v.diagnosis and "203.0.113.10" in v.diagnosis
    assert "refused" in v.diagnosis and "fw rejected" in v.diagnosis
    assert v.evidence.firewall_rejected == {"fw": 1}


def test_helper_rewrite_is_a_pass_marked_as_tampering():
    v = checks.judge(load("server-nat-alg/pyftpdlib/ftplib/none/pasv/trust/masq-off"))
    assert v.outcome == "pass" and v.evidence.tampered is True
    t = v.evidence.tampered_lines[0]
    assert t.direction == "server->client"
    assert "(10,0,2,2," in t.sent and "(203,0,113,10," in t.received
    assert any("helper=ftp" in e for e in v.evidence.helper_expectations["fw"])
    assert "pinhole" in v.diagnosis


def test_tls_hides_the_private_address_from_the_helper():
    v = checks.judge(load("server-nat-alg/pyftpdlib/ftplib/explicit/pasv/trust/masq-off"))
    assert v.stage == "data-connect" and not v.evidence.tampered
    assert "encrypted" in v.diagnosis


def test_active_mode_behind_client_nat_is_a_foreign_address():
    v = checks.judge(load("client-nat/pyftpdlib/ftplib/explicit/port/n-a/masq-off"))
    assert (v.outcome, v.stage, v.check) == ("fail", "data-setup", "foreign-address")
    assert "10.0.1.2" in v.diagnosis and "501" in v.diagnosis


def test_helper_rewrites_port_for_plain_ftp_but_not_tls():
    plain = checks.judge(load("client-nat-alg/pyftpdlib/ftplib/none/port/n-a/masq-off"))
    assert plain.outcome == "pass" and plain.evidence.tampered
    assert plain.evidence.tampered_lines[0].received.startswith("PORT 203,0,113,100,")
    tls = checks.judge(load("client-nat-alg/pyftpdlib/ftplib/explicit/eprt/n-a/masq-on"))
    assert tls.check == "foreign-address" and "TLS-encrypted" in tls.diagnosis


def test_control_policy_pass_explains_the_ignored_address():
    v = checks.judge(load("server-nat/pyftpdlib/ftplib/explicit/pasv/control/masq-off"))
    assert v.outcome == "pass" and "ignored" in v.diagnosis and "10.0.2.2" in v.diagnosis


def test_epsv_passes_without_an_address():
    v = checks.judge(load("server-nat/pyftpdlib/ftplib/implicit/epsv/n-a/masq-off"))
    assert v.outcome == "pass" and not v.evidence.tampered


def test_a_refused_control_port_mentions_the_stage_and_error():
    obs = load("server-nat/pyftpdlib/ftplib/implicit/epsv/n-a/masq-off")
    obs.client = ClientReport(
        ok=False, failure=Failure("refused", "connect to 203.0.113.10:990: ConnectionRefusedError", step="connect")
    )
    v = checks.judge(obs)
    assert (v.outcome, v.stage, v.check) == ("fail", "connect", "control-connect-failed")
    assert "203.0.113.10:990" in v.diagnosis


def test_data_tls_failure_quotes_the_server():
    obs = load("server-nat/pyftpdlib/ftplib/implicit/epsv/n-a/masq-off")
    data = replace(obs.client.data[-1], late_reply="522 SSL connection failed: session reuse required")
    obs.client = replace(
        obs.client,
        ok=False,
        connections=(*obs.client.control, data),
        failure=Failure("tls-error", "TLS handshake on the data connection: SSLEOFError", step="data-tls"),
    )
    v = checks.judge(obs)
    assert v.stage == "data-tls" and "session reuse required" in v.diagnosis


def test_missing_client_report_is_a_harness_error_not_a_verdict():
    obs = load("server-nat/pyftpdlib/ftplib/implicit/epsv/n-a/masq-off")
    obs.client, obs.harness_error = None, "ProbeDied: the ftplib probe did not answer within 40s"
    v = checks.judge(obs)
    assert v.outcome == "error" and v.stage is None and "ProbeDied" in v.diagnosis


@pytest.mark.parametrize("path", sorted(FIX.glob("*.json")), ids=lambda p: p.stem)
def test_every_recorded_observation_gets_a_complete_verdict(path):
    v = checks.judge(recording.load(path))
    assert v.outcome in ("pass", "fail", "skip") and v.diagnosis and v.check
    assert (v.stage is None) == (v.outcome in ("pass", "skip"))


def test_split_backends_name_both_backends_from_the_haproxy_log():
    v = checks.judge(load("lb-roundrobin/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on"))
    assert v.check == "balanced-to-another-backend"
    assert "s1 (10.0.3.11)" in v.diagnosis and "s2 (10.0.3.12)" in v.diagnosis
    assert v.evidence.balancer.data[0].state == "SC"


def test_split_backends_from_conntrack_for_a_nat_balancer():
    v = checks.judge(load("lb-nft-roundrobin/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on"))
    assert v.check == "balanced-to-another-backend" and "s2" in v.diagnosis


def test_multiwan_names_both_uplink_addresses():
    v = checks.judge(load("client-multiwan/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on"))
    assert (v.check, v.stage) == ("foreign-address", "data-connect")
    assert "203.0.113.100" in v.diagnosis and "203.0.113.101" in v.diagnosis
    assert "fw source-NATs" in v.diagnosis


def test_asymmetric_route_names_both_firewalls():
    v = checks.judge(load("server-multihomed/pyftpdlib/ftplib/explicit/pasv/trust/masq-on"))
    assert v.check == "asymmetric-route" and "fwa" in v.diagnosis and "fwb" in v.diagnosis


def test_vsftpd_illegal_port_is_the_foreign_address_check_in_its_words():
    v = checks.judge(load("client-nat/vsftpd/ftplib/none/port/n-a/masq-off"))
    assert v.check == "foreign-address" and "500 Illegal PORT command" in v.diagnosis
    assert "203.0.113.100" in v.diagnosis and "10.0.1.2" in v.diagnosis


def test_a_client_that_gives_up_active_mode_passes_with_that_said():
    v = checks.judge(load("client-nat/vsftpd/lftp/none/port/n-a/masq-off"))
    assert v.outcome == "pass" and v.evidence.fell_back_to_passive >= 1
    assert "switched to passive mode" in v.diagnosis


def test_a_balancer_backs_a_failure_only_when_it_sent_data_elsewhere():
    from harness.judge.evidence import BalancedConnection, Balancer, Evidence
    from harness.judge.stability import backed
    from harness.judge.verdict import Verdict

    quiet = Balancer(control="s1")  # a multi-server topology, no data connection seen
    assert not backed(Verdict("fail", "data-connect", "timed out", Evidence(balancer=quiet)))
    apart = Balancer(control="s1", data=(BalancedConnection(via="lb", port=50001, backend="s2"),))
    assert backed(Verdict("fail", "data-connect", "timed out", Evidence(balancer=apart)))
