"""One module places every client's failure (harness/judge/stages.py), from the facts the client
reported. The fixtures are real runs (`matrix --record`); the expected stages are what those
runs gave."""

from pathlib import Path

import pytest

from harness.judge import checks
from harness.judge.stages import place
from harness.observe import recording

FIX = Path(__file__).parent / "fixtures" / "observations"


def load(case_id: str):
    return recording.load(FIX / (case_id.replace("/", "__") + ".json"))


@pytest.mark.parametrize(
    "case_id, step, stage",
    [
        ("server-nat/pyftpdlib/ftplib/none/pasv/trust/masq-off", "data-connect", "data-connect"),
        ("client-nat/pyftpdlib/ftplib/explicit/port/n-a/masq-off", "negotiate", "data-setup"),
        ("client-multiwan/pyftpdlib/ftplib/explicit/pasv/control/masq-on", "data-connect", "data-connect"),
        ("server-nat/vsftpd/curl/none/pasv/trust/masq-off", "data-connect", "data-connect"),
        ("client-nat/vsftpd/curl/none/port/n-a/masq-on", "data-setup", "data-setup"),
        ("direct/vsftpd/curl/explicit/port/n-a/masq-on", "transfer", "transfer"),
        ("server-nat/vsftpd/lftp/none/pasv/trust/masq-off", "data-connect", "data-connect"),
        ("client-nat/pyftpdlib/lftp/none/port/n-a/masq-on", "data-connect", "data-connect"),
        # ProFTPD's 425 to STOR, then lftp's own "max-retries exceeded": where curl and ftplib are
        ("client-nat-alg/proftpd/lftp/explicit/port/n-a/masq-on", "data-connect", "data-connect"),
    ],
)
def test_every_client_is_placed_by_the_same_rules(case_id, step, stage):
    obs = load(case_id)
    placed = place(obs.client, obs.case.server.tls, obs.case.client.impl)
    assert (placed.step, placed.stage) == (step, stage)
    assert checks.judge(obs).stage == stage


def test_clients_report_facts_not_stages():
    import clients

    curl = load("server-nat/vsftpd/curl/none/pasv/trust/masq-off").client.failure
    assert (curl.exit_code, curl.command, curl.step) == (7, "stor", None)
    assert clients.get("curl").exit_says(curl) == "unreached"  # curl declares what its exit 7 says
    agent = load("server-nat/pyftpdlib/ftplib/none/pasv/trust/masq-off").client.failure
    assert agent.step == "data-connect" and agent.exit_code is None
    refused = load("client-multiwan/pyftpdlib/ftplib/explicit/pasv/control/masq-on").client.failure
    assert (refused.step, refused.reply[:3]) == ("transfer-reply", "425")  # the reply decides the stage


def test_every_activity_has_a_stage_and_exit_statuses_are_not_stages():
    from typing import get_args

    from harness.core.outcome import STAGES
    from harness.judge.stages import ACTIVITY_STAGE
    from harness.observe.observation import Activity, ExitSays

    assert set(ACTIVITY_STAGE) == set(get_args(Activity))
    assert not set(get_args(ExitSays)) & set(STAGES)


def test_a_refused_data_connection_is_a_typed_connection():
    rep = load("server-nat/vsftpd/curl/none/pasv/trust/masq-off").client
    control, data = rep.control[0], rep.data[-1]
    assert (control.role, str(control.target), control.result) == ("control", "203.0.113.10:21", "ok")
    assert (data.result, data.target.host, data.advertised_ip) == ("refused", "10.0.2.2", "10.0.2.2")


def test_lftp_reconnecting_shows_as_a_second_control_connection():
    rep = load("server-nat/vsftpd/lftp/none/pasv/trust/masq-off").client
    assert [c.session for c in rep.control] == [0, 1]
    assert {c.session for c in rep.data if c.result == "refused"} == {0, 1}


def test_a_client_bug_is_declared_by_its_adapter_and_named():
    v = checks.judge(load("direct/vsftpd/curl/explicit/port/n-a/masq-on"))
    assert v.check == "client-known-bug" and "curl issue 10666" in v.diagnosis
    assert "errno 97" in v.diagnosis


def test_server_settings_in_a_diagnosis_come_from_the_server_adapters():
    v = checks.judge(load("direct/vsftpd/ftplib/explicit/epsv/n-a/masq-off"))
    assert (v.check, v.stage) == ("session-reuse-required", "data-tls")
    assert "vsftpd require_ssl_reuse=NO, ProFTPD TLSOptions NoSessionReuseRequired" in v.diagnosis
    assert "(here: curl, lftp, ftplib with session reuse)" in v.diagnosis


def test_a_control_connection_that_never_connected_is_placed_at_connect():
    """curl's 2nd control connection (session 1) timed out through a fixed-port SNAT: the
    session stopped at connect, not at the 1st session's data connection."""
    from harness.observe import recording as rec

    obs = rec.load(Path(__file__).parent / "fixtures" / "trace" / "fixed-port-snat.observation.json")
    assert [(c.session, c.result) for c in obs.client.control] == [(0, "ok"), (1, "timeout")]
    placed = place(obs.client, obs.case.server.tls, obs.case.client.impl)
    assert (placed.step, placed.stage, placed.kind) == ("connect", "connect", "timeout")
    assert checks.judge(obs).stage == "connect"


def test_lftp_s_refused_active_connection_quotes_the_server_s_425():
    v = checks.judge(load("client-nat-alg/proftpd/lftp/explicit/port/n-a/masq-on"))
    assert (
        v.check == "active-connect-failed" and "425 Unable to build data connection: Connection refused" in v.diagnosis
    )
