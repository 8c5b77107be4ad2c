"""Ticket import on recorded files: curl -v and lftp -d logs written by real runs in the
harness's labs (`--capture` keeps them as client.log), their facts, the explanation, the
scenario written, and the verdict on the ticket. No network."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO, harness

from harness import ticket
from harness.core.yamlfile import SpecError
from harness.reproduce import scenario
from harness.ticket import readers
from harness.ticket.facts import derive
from harness.ticket.infer import NotReproducible, explain

T = REPO / "tests" / "fixtures" / "tickets"


def facts(*names: str):  # type: ignore[no-untyped-def]
    return derive([readers.read(T / n) for n in names])


def test_curl_log_events_point_back_to_their_lines():
    log = readers.read(T / "curl-explicit-pasv-private-refused.log")
    assert (log.format, log.client) == ("curl", "curl")
    sent = [e.text for e in log.events if e.kind == "sent"]
    assert sent[:3] == ["AUTH SSL", "USER anonymous", "PBSZ 0"] and "PASV" in sent
    assert all(not t.startswith("PASS ") or t == "PASS ******" for t in sent)
    data = [e for e in log.events if e.dial and e.dial.conn == "data"]
    assert [(d.dial.host, d.dial.port, d.dial.result) for d in data] == [("10.0.2.2", 50006, "refused")]
    assert str(data[0].where) == "curl-explicit-pasv-private-refused.log:78"


def test_curl_facts_of_the_classic_ticket():
    f = facts("curl-explicit-pasv-private-refused.log")
    assert f.control and f.control.value == ("203.0.113.10", 21)
    assert f.server == "vsftpd" and f.tls and f.tls.value == "explicit"
    assert f.tls_version and f.tls_version.value == "TLSv1.3"
    assert [m.value for m in f.modes] == ["pasv"]
    assert f.announced and f.announced.value.ip == "10.0.2.2" and f.address_kind == "private"
    assert f.used and f.used.value == "announced"
    assert f.failure and (f.failure.stage, f.failure.kind) == ("data-connect", "refused")
    assert f.failure.where.line == 78


def test_lftp_facts_and_explanation():
    f = facts("lftp-plain-pasv-private-refused.log")
    assert f.client == "lftp" and f.tls and f.tls.value == "none"
    assert f.failure and f.failure.stage == "data-connect" and "Data socket error" in f.failure.said
    inf = explain(f)
    assert inf.explanation == "private-pasv-address"
    values = {k: v for k, v, _ in inf.values}
    assert values["topology.name"] == "server-nat" and values["topology.helper"] == "off"
    assert values["clients.impl"] == "lftp" and values["clients.pasv_address"] == "trust"


def test_a_log_without_failure_says_so():
    f = facts("curl-plain-port-through-helper-passes.log")
    assert f.failure is None and f.transfers >= 3
    with pytest.raises(NotReproducible, match="no failure"):
        explain(f)


def test_the_written_scenario_loads_and_every_value_names_its_fact(tmp_path):
    imp = ticket.load([T / "curl-explicit-pasv-private-refused.log"])
    text = imp.scenario()
    path = tmp_path / "ticket.yaml"
    path.write_text(text)
    sc = scenario.load(path)
    assert [c.id for c in sc.cases] == ["server-nat/vsftpd/curl/explicit/pasv/trust/masq-off"]
    assert sc.expectations[0].outcome == "fail" and sc.expectations[0].stage == "data-connect"
    doc = yaml.safe_load(text)
    assert doc["topology"] == "server-nat"
    for line in text.splitlines():
        if line.strip() and not line.startswith("#") and not line.rstrip().endswith(":"):
            assert "  # " in line, f"a value without its fact: {line}"
    assert "curl-explicit-pasv-private-refused.log:75" in text  # the 227's line


def test_an_undecided_helper_is_an_axis_both_variants_run(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "topology: {name: server-nat, helper: [off, on]}\nclients: [curl]\nmodes: [pasv]\n"
    )
    sc = scenario.load(tmp_path / "s.yaml")
    assert {c.topology for c in sc.cases} == {"server-nat", "server-nat-alg"}


def test_an_unknown_file_is_exit_2_naming_the_formats_tried(tmp_path):
    (tmp_path / "notes.txt").write_text("the customer says it hangs\n")
    r = harness("import", str(tmp_path / "notes.txt"), timeout=60)
    assert r.returncode == 2 and "not a format the harness reads. Tried:" in r.stderr
    assert "curl -v output" in r.stderr and "lftp debug output" in r.stderr and "Traceback" not in r.stderr
    r = harness("import", str(tmp_path / "missing.log"), timeout=60)
    assert r.returncode == 2 and "cannot read it" in r.stderr


def test_import_prints_facts_and_writes_the_scenario(tmp_path):
    out = tmp_path / "t.yaml"
    r = harness("import", str(T / "curl-explicit-pasv-private-refused.log"), "--out", str(out), timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "announced        227 Entering Passive Mode (10,0,2,2,195,86). (private)" in r.stdout
    assert "explanation: private-pasv-address" in r.stdout and out.exists()
    r = harness("import", str(T / "curl-plain-port-through-helper-passes.log"), timeout=60)
    assert r.returncode == 1 and "no scenario: the files show no failure" in r.stderr


def test_reproduce_wants_a_scenario_or_a_ticket_not_both():
    r = harness("reproduce", timeout=60)
    assert r.returncode == 2 and "give scenario FILEs, or --from" in r.stderr
    with pytest.raises(SpecError):
        scenario.load(T / "curl-explicit-pasv-private-refused.log")  # a log is not a scenario


@pytest.mark.parametrize(
    ("log", "explanation", "stage", "topology"),
    [
        ("curl-explicit-epsv-range-not-forwarded.log", "passive-range-not-forwarded", "data-connect", "server-nat"),
        ("curl-explicit-epsv-425-foreign-address.log", "data-from-another-address", "data-connect", "client-multiwan"),
        ("curl-explicit-second-transfer-not-resumed.log", "tls-session-not-resumed", "data-tls", "direct"),
        ("lftp-explicit-certificate-not-trusted.log", "certificate-not-trusted", "tls-handshake", "direct"),
    ],
)
def test_each_recorded_ticket_gets_its_explanation(log, explanation, stage, topology):
    inf = explain(facts(log))
    values = {k: v for k, v, _ in inf.values}
    assert (inf.explanation, values["expect.stage"], values["topology.name"]) == (explanation, stage, topology)


def test_the_second_transfer_is_counted_and_the_fallback_from_epsv_seen():
    f = facts("curl-explicit-second-transfer-not-resumed.log")
    assert f.transfers >= 1 and any(r.value == "not-resumed" for r in f.resumption)
    assert {k: v for k, v, _ in explain(f).values}["transfers"] == f.transfers + 1
    g = facts("curl-explicit-epsv-425-foreign-address.log")
    assert [fb.value for fb in g.fallbacks] == ["EPSV -> PASV"]  # curl: "Failed EPSV attempt. Disabling EPSV"


def test_a_data_tls_handshake_the_server_cut_is_not_guessed_at():
    f = facts("curl-explicit-pasv-data-tls-cut.log")
    assert f.failure and f.failure.stage == "data-tls" and "SSL_ERROR_SYSCALL" in f.failure.said
    with pytest.raises(NotReproducible, match="matches none of the situations"):
        explain(f)
