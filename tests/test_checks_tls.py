"""The checks of TLS in the field (docs/tls.md) on observations recorded from real runs (fixtures/observations)."""

from dataclasses import replace
from pathlib import Path

from harness.judge import checks
from harness.observe import recording
from harness.observe.observation import LogLine

FIX = Path(__file__).parent / "fixtures" / "observations"


def load(case_id: str):
    return recording.load(FIX / (case_id.replace("/", "__") + ".json"))


def test_ccc_through_the_alg_is_a_pass_the_helper_made():
    v = checks.judge(load("server-nat-alg/pyftpdlib/ftplib-reuse/ccc/pasv/trust/masq-off"))
    assert (v.outcome, v.check) == ("pass", "helper-reads-after-ccc")
    assert v.evidence.tampered  # rendered pass*
    assert "(10,0,2,2," in v.evidence.tampered_lines[0].sent
    assert "in clear" in v.diagnosis and "PROT P" in v.diagnosis


def test_vsftpd_refuses_ccc_and_the_probe_stops_there():
    v = checks.judge(load("direct/vsftpd/ftplib-reuse/ccc/epsv/n-a/masq-off"))
    assert (v.outcome, v.stage, v.check) == ("fail", "login", "ccc-refused")
    assert "500 Unknown command." in v.diagnosis and v.evidence.ccc.control_encrypted


def test_curl_carries_on_after_a_refused_ccc():
    v = checks.judge(load("direct/vsftpd/curl/ccc/epsv/n-a/masq-off"))
    assert (v.outcome, v.check) == ("pass", "ccc-refused")
    assert "stayed encrypted" in v.diagnosis


def test_lftp_loses_the_control_connection_after_an_accepted_ccc():
    v = checks.judge(load("direct/pyftpdlib/lftp/ccc/epsv/n-a/masq-off"))
    assert (v.outcome, v.check) == ("fail", "ccc-dropped-control")
    assert "Peer closed connection" in v.diagnosis


def test_curl_loses_resumption_on_the_second_transfer_under_tls13():
    v = checks.judge(load("direct/proftpd/curl/explicit/epsv/n-a/masq-off/transfers-2"))
    assert (v.outcome, v.stage, v.check) == ("fail", "data-tls", "tls-session-not-resumed")
    assert "did not reuse TLS session" in v.diagnosis
    assert v.evidence.resumption.server_resumed
    assert checks.judge(load("direct/proftpd/curl/explicit/epsv/n-a/masq-off/tls-1.2/transfers-2")).outcome == "pass"


def test_stock_ftplib_still_gets_the_reuse_required_diagnosis():
    v = checks.judge(load("direct/vsftpd/ftplib/explicit/epsv/n-a/masq-off"))
    assert v.check == "session-reuse-required"


def test_vsftpd_refuses_an_upload_without_close_notify():
    v = checks.judge(load("direct/vsftpd/ftplib-abrupt/explicit/epsv/n-a/masq-off/transfers-2"))
    assert (v.outcome, v.check) == ("fail", "data-tls-truncated")
    assert "426" in v.diagnosis and "client closed without close_notify" in v.diagnosis
    assert v.evidence.truncated.close_notify_sent is False


def test_a_426_upload_is_named_from_the_servers_log_when_the_client_does_not_report_close_notify():
    """curl and lftp do not say whether they sent close_notify: vsftpd's 426 and its log line
    ("terminated without SSL shutdown") name the failure (peers shard 1/8, curl, a flaky case)."""
    obs = load("direct/vsftpd/ftplib-abrupt/explicit/epsv/n-a/masq-off/transfers-2")
    conns = tuple(
        replace(c, close_notify_sent=None, close_notify_received=None, sent_bytes=None, arrived_bytes=None)
        for c in obs.client.connections
    )
    obs.client = replace(obs.client, connections=conns)
    assert checks.judge(obs).check != "data-tls-truncated"  # a 426 alone says less
    said = (
        "DEBUG: DATA connection terminated without SSL shutdown. Buggy client! Integrity of upload cannot be asserted."
    )
    obs.server = replace(obs.server, log=(*obs.server.log, LogLine("server", said)))
    v = checks.judge(obs)
    assert (v.outcome, v.check) == ("fail", "data-tls-truncated")
    assert "the server saw no TLS shutdown from the client" in v.diagnosis
    assert "without SSL shutdown" in v.diagnosis  # its log, quoted


def test_pyftpdlib_keeps_a_short_file_and_says_226():
    v = checks.judge(load("direct/pyftpdlib/ftplib-abrupt/explicit/epsv/n-a/masq-off/transfers-2"))
    assert (v.outcome, v.stage, v.check) == ("fail", "integrity", "data-tls-truncated")
    t = v.evidence.truncated
    assert t.arrived_bytes < t.sent_bytes and "226" in v.diagnosis


def test_data_connections_carry_tls_facts():
    obs = load("server-nat-alg/pyftpdlib/ftplib-reuse/ccc/pasv/trust/masq-off")
    assert obs.client.control[0].ccc == "ok"
    d = obs.client.data[0]
    assert d.tls_version == "TLSv1.3" and d.cipher and d.close_notify_sent and d.close_notify_received
    assert d.sent_bytes == d.arrived_bytes == 1 << 20


def _fixes(case_id: str) -> dict:
    from harness.judge import fixes

    obs = load(case_id)
    return {f.name: changed for f, changed in fixes.candidates(obs.case, checks.judge(obs))}


def test_fixes_offered_for_the_tls_failures():
    lost = _fixes("direct/proftpd/curl/explicit/epsv/n-a/masq-off/transfers-2")
    assert lost["tls12-only"].client.tls_version == "1.2" and lost["reuse-off"].server.reuse == "off"
    abrupt = _fixes("direct/vsftpd/ftplib-abrupt/explicit/epsv/n-a/masq-off/transfers-2")
    assert abrupt["close-notify-client"].client.impl == "ftplib-reuse"
    blind = _fixes("server-nat-alg/pyftpdlib/ftplib/explicit/pasv/trust/masq-off")
    assert blind["ccc"].server.tls == "ccc" and blind["ccc"].topology == "server-nat-alg"
    from harness.judge import fixes

    assert "in clear" in fixes.REGISTRY.get("ccc").cost


def test_helper_after_ccc_recognised_from_its_expectations_when_the_server_logs_no_lines():
    v = checks.judge(load("server-nat-alg/pure-ftpd/ftplib-reuse/ccc/pasv/trust/masq-off/transfers-2"))
    assert (v.outcome, v.check) == ("pass", "helper-reads-after-ccc")
    assert not v.evidence.tampered and "conntrack expectations" in v.diagnosis


def test_proftpd_takes_unresumed_data_connections_after_ccc():
    obs = load("direct/proftpd/ftplib/ccc/pasv/trust/masq-off/transfers-2")
    assert checks.judge(obs).outcome == "pass"
    assert {d.session_reused for d in obs.client.data} == {False}
