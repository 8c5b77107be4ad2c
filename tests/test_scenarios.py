"""Scenario files: validation with precise messages, and every shipped scenario's `expect`
holding against a real run."""
from pathlib import Path

import pytest

from conftest import REPO, harness
from harness import scenario

SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, message", [
    ("topology: server-nat\nclients: [{impl: curl}]\nmodes: pasv\nserver: {tls: 3}\n",
     "server.tls: expected one of none, explicit, implicit, got 3"),
    ("topology: nowhere\nclients: [curl]\n", "topology.name: expected one of direct, server-nat"),
    ("topology: server-nat\nclients: [curl]\nsurprise: 1\n", "(top level).surprise: unknown key; valid keys:"),
    ("topology: server-nat\nclients: [{impl: curl, colour: red}]\n", "clients[0].colour: unknown key"),
    ("topology: server-nat\nserver: {passive_range: 50009-50000}\nclients: [curl]\n",
     "server.passive_range: expected a port range like 50000-50009, got '50009-50000'"),
    ("topology: {name: server-nat, forward_range: 80-90}\nclients: [curl]\n",
     "topology.forward_range: expected a port range like 50000-50009 or none, got '80-90'"),
    ("topology: server-nat\nclients: []\n", "clients: expected a list of at least one client"),
    ("topology: server-nat\nclients: [{impl: telnet}]\n", "clients[0].impl: expected one of ftplib"),
    ("topology: {name: direct, helper: on}\nclients: [curl]\n", "topology.helper: topology 'direct' has no FTP helper"),
    ("clients: [curl]\n", "topology: missing (required)"),
    ("topology: server-nat\nclients: [curl]\nexpect: {outcome: maybe}\n",
     "expect.outcome: expected one of pass, fail, skip, error, got 'maybe'"),
    ("topology: server-nat\nclients: [curl]\nbusy_sessions: lots\n", "busy_sessions: expected a whole number"),
    ("topology: [server-nat\n", "not valid YAML"),
])
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
