"""The probe's pure parts, on a recorded probe document (tests/fixtures/probe/, a real run
against the misconfigured embedded server in the direct lab) and on recorded lines."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import REPO, harness
from rich.console import Console

from harness.core import codec
from harness.core.family import classify
from harness.judge import findings as case
from harness.judge.findings import FINDINGS, SEVERITIES, banner_version, fix_text
from harness.observe.observation import ClientReport, Connection, ControlLine
from harness.probe import render
from harness.probe.model import ProbeReport, json_schema

FIXTURE = REPO / "tests/fixtures/probe/pyftpdlib-misconfigured.json"


def recorded() -> ProbeReport:
    return codec.decode(json.loads(FIXTURE.read_text()), ProbeReport)


def test_schema_file_is_current_and_a_real_document_validates():
    assert json.loads((REPO / "schemas/probe.schema.json").read_text()) == json_schema()
    jsonschema.validate(json.loads(FIXTURE.read_text()), json_schema())


def test_recorded_document_round_trips_and_renders_in_every_format(tmp_path):
    r = recorded()
    assert json.loads(json.dumps(render.to_json(r))) == json.loads(FIXTURE.read_text())
    console = Console(record=True, width=150)
    render.terminal(r, console, verbose=True)
    text = console.export_text()
    assert "plaintext-login" in text and "sender's side is unknown" in text
    md, page = render.markdown(r), render.page(r)
    for check in ("plaintext-login", "old-tls", "private-address", "prot-c-accepted"):
        assert check in md and check in page
    assert "10.0.2.2" in md and "<script" not in page


def test_a_passing_mode_carries_the_findings_that_apply_to_it():
    r = recorded()
    epsv = next(m for m in r.modes if m.mode == "epsv")
    pasv = next(m for m in r.modes if m.mode == "pasv")
    assert epsv.outcome == "pass" and "prot-c-accepted" in epsv.findings
    assert "private-address" in pasv.findings and "private-address" not in epsv.findings


@pytest.mark.parametrize(
    "line,version",
    [
        ("220 (vsFTPd 3.0.3)", "vsFTPd 3.0.3"),
        ("220 pyftpdlib 2.2.0 ready.", "pyftpdlib 2.2.0"),
        ("220 ProFTPD Server (ftps-harness proftpd) [10.0.2.2]", None),
        ("220 ftps-harness pyftpdlib ready", None),
        ("220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------", None),
        ("220 Microsoft FTP Service", None),
    ],
)
def test_banner_version_on_real_greetings(line, version):
    assert banner_version((line,)) == version


@pytest.mark.parametrize(
    "adv,peer,cls",
    [
        ("203.0.113.10", "203.0.113.10", "same"),
        ("10.0.2.2", "203.0.113.10", "private"),
        ("203.0.113.11", "203.0.113.10", "neighbour"),
        ("192.0.2.99", "127.0.0.1", "third-party"),
        (None, "203.0.113.10", "none"),
        ("100.64.1.1", "203.0.113.10", "private"),
    ],
)
def test_advertised_address_classes(adv, peer, cls):
    assert classify(adv, peer) == cls


def test_every_check_has_a_known_severity_and_a_fix():
    assert all(k.severity in SEVERITIES and "{" not in fix_text(k) for k in FINDINGS.values())


def test_matrix_case_findings_from_a_client_report():
    report = ClientReport(
        ok=True,
        transcript=(ControlLine("recv", "220 (vsFTPd 3.0.3)"),),
        connections=(
            Connection(
                "data",
                reply="227 Entering Passive Mode (10,0,2,2,195,83).",
                advertised_ip="10.0.2.2",
                control_peer="203.0.113.10",
                tls_version="TLSv1.3",
            ),
        ),
    )
    assert [f.check for f in case.case_findings(report)] == ["banner-version", "private-address"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["a b:21"], "is not HOST[:PORT]"),
        (["host:99999"], "port must be"),
        (["host", "--user", "bob"], "needs --password-file"),
        (["host", "--bounce-target", "example.com:25"], "IP address"),
        (["host", "--password-file", "/nonexistent", "--user", "bob"], "cannot read"),
        (["host", "--mode", "pasv,nope"], "--mode"),
    ],
)
def test_bad_input_is_exit_2_with_a_message(args, message):
    r = harness("probe", *args, timeout=30)
    assert r.returncode == 2 and message in r.stderr, r.stderr


def test_refused_host_is_a_classified_result(tmp_path):
    out = tmp_path / "p.json"
    r = harness("probe", "127.0.0.1:9", "--tls", "none", "--json", str(out), timeout=30)
    doc = json.loads(out.read_text())
    assert r.returncode == 1 and doc["reached"] is False and "refused" in doc["unreached"]
    jsonschema.validate(doc, json_schema())


def test_a_refused_third_party_227_is_a_data_setup_failure_in_the_matrix_too():
    from harness.judge.stages import place
    from harness.observe.observation import Failure

    line = "227 Entering Passive Mode (192,0,2,99,195,80)"
    report = ClientReport(
        ok=False,
        failure=Failure("foreign-pasv", "the 227 reply points to 192.0.2.99, a third party", line, step="negotiate"),
        transcript=(ControlLine("sent", "PASV"), ControlLine("recv", line)),
    )
    assert place(report, "none", "ftplib").stage == "data-setup"
    assert classify("192.0.2.99", "2001:db8::1") == "other-family"


@pytest.mark.parametrize(
    "host,names,ok",
    [
        ("203.0.113.10", ("ftp.example.test", "203.0.113.10"), True),
        ("203.0.113.11", ("ftp.example.test", "203.0.113.10"), False),
        ("ftp.example.test", ("*.example.test",), True),
        ("a.b.example.test", ("*.example.test",), False),
        ("2001:db8::10", ("2001:0db8::0010",), True),
    ],
)
def test_certificate_name_match(host, names, ok):
    from harness.probe.certificate import matches

    assert matches(host, names) is ok
