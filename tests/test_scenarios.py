"""Scenario files: validation with precise messages, and every shipped scenario's `expect`
holding against a real run."""

import os
from pathlib import Path

import pytest
from conftest import REPO, harness

from harness.reproduce import scenario

SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "topology: server-nat\nclients: [{impl: curl}]\nmodes: pasv\nserver: {tls: 3}\n",
            "server.tls: expected one of none, explicit, implicit, ccc, got 3",
        ),
        ("topology: nowhere\nclients: [curl]\n", "topology.name: expected one of direct, server-nat"),
        ("topology: server-nat\nclients: [curl]\nsurprise: 1\n", "line 3: surprise: unknown key; valid keys: name,"),
        ("topology: server-nat\nclients: [{impl: curl, colour: red}]\n", "clients[0].colour: unknown key"),
        (
            "topology: server-nat\nserver: {passive_range: 50009-50000}\nclients: [curl]\n",
            "server.passive_range: expected a port range like 50000-50009, got '50009-50000'",
        ),
        (
            "topology: {name: server-nat, forward_range: 80-90}\nclients: [curl]\n",
            "topology.forward_range: expected a port range like 50000-50009 or none, got '80-90'",
        ),
        ("topology: server-nat\nclients: []\n", "clients: expected at least one value"),
        ("topology: server-nat\nclients: [{impl: telnet}]\n", "clients[0].impl: expected one of ftplib"),
        (
            "topology: {name: direct, helper: on}\nclients: [curl]\n",
            "topology.helper: topology 'direct' has no FTP helper",
        ),
        ("clients: [curl]\n", "topology: missing (required)"),
        (
            "topology: server-nat\nclients: [curl]\nexpect: {outcome: maybe}\n",
            "expect.outcome: expected one of pass, fail, skip, error, got 'maybe'",
        ),
        ("topology: server-nat\nclients: [curl]\nbusy_sessions: lots\n", "busy_sessions: expected a whole number"),
        ("topology: [server-nat\n", "not valid YAML"),
    ],
)
def test_malformed_scenarios_get_precise_messages(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(scenario.ScenarioError) as e:
        scenario.load(path)
    assert str(e.value).startswith(str(path)) and message in str(e.value)


def test_cli_exits_2_on_a_bad_scenario_without_a_traceback(tmp_path):
    path = write(tmp_path, "topology: server-nat\nclients: [{impl: telnet}]\n")
    r = harness("reproduce", str(path), timeout=30)
    assert r.returncode == 2 and "clients[0].impl" in r.stderr and "Traceback" not in r.stderr


def test_yaml_on_off_read_as_the_words_they_are(tmp_path):
    sc = scenario.load(write(tmp_path, "topology: server-nat\nserver: {masquerade: on}\nclients: [curl]\n"))
    assert {c.server.masquerade for c in sc.cases} == {True}


def test_shipped_scenarios_tell_their_story_and_have_expectations():
    assert len(SCENARIOS) >= 8
    for p in SCENARIOS:
        sc = scenario.load(p)
        assert sc.story.count("\n") >= 1, f"{p.name}: the first two comment lines tell the story"
        assert sc.expectations and sc.cases


@pytest.mark.netns
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_holds_its_expectations(path):
    r = harness("reproduce", "--no-fixes", str(path), timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "every expectation held" in r.stdout


@pytest.mark.netns
def test_reproduce_tries_the_fixes_and_says_what_each_costs():
    r = harness("reproduce", str(REPO / "scenarios" / "01-ftps-behind-nat-private-ip.yaml"), timeout=300)
    assert r.returncode == 0, r.stdout[-3000:]
    out = " ".join(r.stdout.split())
    assert "masquerade: made 2 of 2 failing case(s) pass" in out
    assert "epsv: made 2 of 2 failing case(s) pass" in out
    assert "helper: made 0 of 2 failing case(s) pass" in out and "works only without TLS" in out
    assert "verified by replay" in out


# --- typos that used to pass silently, and inputs that are not scenario files -----------


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "topology: server-nat\nclients: [curl]\nexpect: {check: advertised-adress-unreachable}\n",
            "line 3: expect.check: expected one of harness-error, not-expressible, ccc-refused, helper-reads-after-ccc, passed, nat-tuple-clash, ipv4-only-line",
        ),
        (
            "topology: server-nat\nclients: [curl]\nexpect:\n  cases:\n    - match: {mode: EPSV}\n      outcome: pass\n",
            "line 5: expect.cases[0].match.mode: expected one of pasv, epsv, port, eprt, got 'EPSV'",
        ),
        (
            "topology: server-nat\nclients: [curl]\nexpect:\n  cases:\n    - match: {tls: nonee}\n      outcome: pass\n",
            "line 5: expect.cases[0].match.tls: expected one of none, explicit, implicit, ccc, got 'nonee'",
        ),
        (
            "topology: server-nat\nclients: [curl]\nexpect:\n  cases:\n    - match: {client: lftp}\n      outcome: pass\n",
            "line 5: expect.cases[0].match.client: expected one of curl (the client values this scenario runs), got 'lftp'",
        ),
        (
            "topology: server-nat\nclients: [curl]\nmodes: [pasv]\nexpect:\n  cases:\n    - match: {mode: port}\n      outcome: pass\n",
            "line 6: expect.cases[0].match.mode: expected one of pasv (the mode values this scenario runs)",
        ),
        (
            "topology: server-nat\nclients: [curl]\nexpect:\n  cases:\n    - match: {colour: red}\n",
            "expect.cases[0].match.colour: unknown key; valid keys: mode, tls, client, server, masquerade",
        ),
        (
            "topology: server-nat\nserver: {tls: [none, sftp]}\nclients: [curl]\n",
            "line 2: server.tls[1]: expected one of none, explicit, implicit, ccc, got 'sftp'",
        ),
    ],
)
def test_every_enum_value_is_checked_with_file_line_path_and_choices(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(scenario.ScenarioError) as e:
        scenario.load(path)
    assert str(e.value).startswith(f"{path}, line ") and message in str(e.value), str(e.value)


def test_binary_garbage_is_exit_2_naming_the_byte_offset(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"topology: direct\n\xff\xfe\x00garbage")
    r = harness("reproduce", str(path), timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{path}: the scenario file is not UTF-8 text: byte 0xff at byte offset 17" in " ".join(r.stderr.split())
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


def test_a_device_is_refused_without_reading_it():
    r = harness("reproduce", "/dev/zero", timeout=30)
    assert r.returncode == 2 and "must be a regular file; this is a device" in r.stderr, r.stderr


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "s.yaml"
    os.mkfifo(fifo)
    r = harness("reproduce", str(fifo), timeout=30)
    assert r.returncode == 2 and "this is a FIFO" in r.stderr, r.stderr


def test_a_huge_file_is_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("# padding\n" * 200_000)
    r = harness("reproduce", str(path), timeout=30)
    assert r.returncode == 2 and "larger than 1024 KiB" in r.stderr, r.stderr


def test_the_committed_json_schemas_are_current():
    from harness import schemas

    for name, text in schemas.texts().items():
        committed = REPO / "schemas" / name
        assert committed.exists() and committed.read_text() == text, (
            f"schemas/{name} is out of date: run `python -m harness.schemas` and commit the result"
        )


def test_every_shipped_scenario_and_plan_fits_the_one_schema():
    from harness import schemas
    from harness.plan import spec

    for path in SCENARIOS:
        spec.load(path, "scenario", schemas.NAMES)
    for path in sorted((REPO / "plans").glob("*.yaml")):
        spec.load(path, "plan", schemas.NAMES)


def test_tls_axes_in_a_scenario_give_ids_and_matchable_values():
    from harness.reproduce import scenario as sc

    s = sc.load(Path(__file__).parents[1] / "scenarios" / "10-second-transfer-loses-resumption-tls13.yaml")
    ids = {c.id for c in s.cases}
    assert "direct/proftpd/curl/explicit/epsv/n-a/masq-off/transfers-2" in ids
    assert "direct/proftpd/curl/explicit/epsv/n-a/masq-off/tls-1.2/transfers-2" in ids
    curl13 = next(c for c in s.cases if c.client.impl == "curl" and c.client.tls_version == "1.3")
    assert [e.check for e in s.expectations if e.applies(sc.described(curl13))][-1] == "tls-session-not-resumed"
