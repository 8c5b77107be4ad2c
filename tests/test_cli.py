"""Bad input exits 2 and names the field and the valid choices."""

import pytest
from conftest import harness


@pytest.mark.parametrize(
    "args, field, valid",
    [
        (["--mode", "pasv,bogus"], "--mode", "pasv, epsv, port, eprt"),
        (["--tls", "ssl"], "--tls", "none, explicit, implicit"),
        (["--topology", "nowhere"], "--topology", "direct"),
        (["--pasv-address", "maybe"], "--pasv-address", "trust, control"),
        (["--masquerade", "yes"], "--masquerade", "on, off"),
        (["--family", "ipv5"], "--family", "ipv4, ipv6"),
        (["--jobs", "0"], "--jobs", "1 to 16"),
        (["--passive-range", "50009-50000"], "--passive-range", "is reversed; did you mean 50000-50009?"),
        (["--passive-range", "80-90"], "--passive-range", "within 1024-65535"),
        (["--jobs", "²"], "--jobs", "'²' is not a whole number from 1 to 16"),
        (["--busy-sessions", "٣"], "--busy-sessions", "is not a whole number from 0 to 64"),
        (["--tls", "ccc,tls13"], "--tls", "none, explicit, implicit, ccc"),
        (["--tls-version", "1.1"], "--tls-version", "1.3, 1.2"),
        (["--transfers", "0"], "--transfers", "whole number from 1 to 10"),
        (["--verify-cert", "maybe"], "--verify-cert", "on, off, system"),
    ],
)
def test_bad_matrix_input_exits_2_with_valid_choices(args, field, valid):
    r = harness("matrix", *args, timeout=30)
    assert r.returncode == 2
    assert field in r.stderr and valid in r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_command_exits_2():
    r = harness("frobnicate", timeout=30)
    assert r.returncode == 2 and "invalid choice" in r.stderr


def test_list_and_rules_need_no_root():
    r = harness("list", timeout=30)
    assert r.returncode == 0 and "server-nat-alg" in r.stdout
    r = harness("rules", "server-nat-alg", timeout=30)
    assert r.returncode == 0 and "dnat ip to $SERVER_IP" in r.stdout
    r = harness("rules", "server-nat-alg", "--family", "ipv6", timeout=30)
    assert r.returncode == 0 and "dnat ip6 to $SERVER_IP" in r.stdout and "l3proto ip6;" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["--json", "{tmp}"], "--json {tmp}: exists and is not a regular file"),
        (["--json", "{tmp}/file/r.json"], "exists and is not a folder"),
        (["--report-dir", "{tmp}/file"], "--report-dir {tmp}/file: {tmp}/file exists and is not a folder"),
        (["--report-dir", "/proc/ftps-harness-reports"], "--report-dir /proc/ftps-harness-reports: cannot make"),
        (["--record", "{tmp}/file"], "--record {tmp}/file"),
        (["--rules-md", "{tmp}"], "--rules-md {tmp}: exists and is not a regular file"),
    ],
)
def test_unusable_output_paths_exit_2_before_the_run(tmp_path, args, message):
    (tmp_path / "file").write_text("")
    args = [a.format(tmp=tmp_path) for a in args]
    r = harness("matrix", "--topology", "direct", *args, timeout=30)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message.format(tmp=tmp_path) in " ".join(r.stderr.split()), r.stderr
    assert " cases on " not in r.stderr  # refused before any case ran
