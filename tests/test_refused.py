"""The check `session-refused`, on recorded runs of Pure-FTPd with its forced passive address
(-P) set to an IPv6 address: it ends every session at the greeting with 421, and the check
quotes that and names the setting, whichever client saw it."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.judge import checks
from harness.observe import recording

FIX = Path(__file__).parent / "fixtures" / "observations"
FTPLIB = FIX / "direct__pure-ftpd__ftplib__explicit__epsv__n-a__masq-on__ipv6.json"
CURL = FIX / "direct__pure-ftpd__curl__none__pasv__control__masq-on__ipv6.json"


@pytest.mark.parametrize("path", [FTPLIB, CURL], ids=["ftplib", "curl"])
def test_a_421_at_the_greeting_is_quoted_and_its_setting_named(path):
    v = checks.judge(recording.load(path))
    assert (v.outcome, v.stage, v.check) == ("fail", "connect", "session-refused")
    assert "Pure-FTPd refused the session at its greeting, before the client sent any command" in v.diagnosis
    assert "'421 Illegal forced IP for passive connections'" in v.diagnosis
    assert "-P, the setting that makes it advertise another address (masquerade), set here to 2001:db8:" in v.diagnosis
    assert "Not tried by a re-run of this case: -P set to the server's public IPv4 address" in v.diagnosis


def test_wording_the_adapter_does_not_declare_is_quoted_without_a_setting(tmp_path):
    other = tmp_path / "obs.json"
    other.write_text(CURL.read_text().replace("Illegal forced IP for passive connections", "Too many users"))
    v = checks.judge(recording.load(other))
    assert v.check == "session-refused" and "'421 Too many users'" in v.diagnosis
    assert "curl reported only: curl: (28) Timeout was reached" in v.diagnosis
    assert "Look in Pure-FTPd's configuration and its log" in v.diagnosis


def test_a_refusal_after_login_is_left_to_other_checks(tmp_path):
    obs = recording.load(FTPLIB)
    assert obs.client is not None
    refused = FTPLIB.read_text().replace('"step": "greeting"', '"step": "list"')
    assert refused != FTPLIB.read_text()
    (tmp_path / "obs.json").write_text(refused)
    assert checks.judge(recording.load(tmp_path / "obs.json")).check != "session-refused"
