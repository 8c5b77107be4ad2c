"""Bad input exits 2 and names the field and the valid choices."""
import pytest

from conftest import harness


@pytest.mark.parametrize("args, field, valid", [
    (["--mode", "pasv,bogus"], "--mode", "pasv, epsv, port, eprt"),
    (["--tls", "ssl"], "--tls", "none, explicit, implicit"),
    (["--topology", "nowhere"], "--topology", "direct"),
    (["--pasv-address", "maybe"], "--pasv-address", "trust, control"),
    (["--masquerade", "yes"], "--masquerade", "on, off"),
    (["--jobs", "0"], "--jobs", "1 to 16"),
    (["--passive-range", "50009-50000"], "--passive-range", "within 1024-65535"),
])
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
