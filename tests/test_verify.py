"""verify: real runs of the shipped plans; advice proven by re-runs on the admin's own file."""

import json

import pytest
from conftest import REPO, harness


@pytest.mark.netns
def test_verify_names_the_missing_passive_range_and_exits_non_zero():
    r = harness("verify", str(REPO / "plans" / "vsftpd-edge-incomplete.yaml"), timeout=300)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    out = " ".join(r.stdout.split())
    assert "proven by re-running this case through your changed file" in out
    assert "+ iifname $OUTSIDE_IF ip daddr $PUBLIC_IP tcp dport 50000-50100 dnat ip to $SERVER_IP" in out
    assert "not ready to deploy" in out


@pytest.mark.netns
def test_verify_passes_the_complete_plan():
    r = harness("verify", str(REPO / "plans" / "vsftpd-edge.yaml"), timeout=300)
    assert r.returncode == 0, r.stdout[-2000:]
    assert "4 of 4 required cases work" in r.stdout


def test_a_ruleset_nft_refuses_is_exit_2(tmp_path):
    (tmp_path / "bad.nft").write_text("table inet x { chain c { nonsense } }\n")
    (tmp_path / "p.yaml").write_text("ruleset: bad.nft\nclients: [{impl: curl}]\n")
    r = harness("verify", str(tmp_path / "p.yaml"), timeout=60)
    assert r.returncode == 2 and "nft refuses bad.nft" in r.stderr and "Traceback" not in r.stderr


def test_a_binary_ruleset_is_exit_2_naming_file_and_offset(tmp_path):
    (tmp_path / "bad.nft").write_bytes(b"table inet x {\n\x80\x81 }\n")
    (tmp_path / "p.yaml").write_text("ruleset: bad.nft\nclients: [{impl: curl}]\n")
    r = harness("verify", str(tmp_path / "p.yaml"), timeout=60)
    err = "".join(r.stderr.split())  # the terminal wraps long paths anywhere
    assert r.returncode == 2, r.stdout + r.stderr
    said = f"{tmp_path / 'bad.nft'}: the ruleset file is not UTF-8 text: byte 0x80 at byte offset 15"
    assert "".join(said.split()) in err
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "ruleset: x.nft\ntopology: lb\nclients: [{impl: curl}]\n",
            "line 2: topology: expected one of server-nat, direct, client-nat, lb-haproxy, lb-nft, or a topology file (.yaml), got 'lb'",
        ),
        (
            "ruleset: x.nft\nclients: [{impl: curl, modes: [EPSV]}]\n",
            "line 2: clients[0].modes[0]: expected one of pasv, epsv, port, eprt, got 'EPSV'",
        ),
        (
            "ruleset: x.nft\nserver: {permit_foreign_addresses: on}\nclients: [curl]\n",
            "line 2: server.permit_foreign_addresses: unknown key; valid keys: impl, tls",
        ),
        ("ruleset: x.nft\nclients: [{impl: curl}]\n", "x.nft: cannot read the ruleset file"),
    ],
)
def test_plans_share_the_scenario_schema_and_its_messages(tmp_path, text, message):
    (tmp_path / "p.yaml").write_text(text)
    r = harness("verify", str(tmp_path / "p.yaml"), timeout=60)
    assert r.returncode == 2 and message in " ".join(r.stderr.split()), r.stderr


def test_an_included_files_contents_are_never_echoed(tmp_path):
    (tmp_path / "secret.conf").write_text("password=hunter2\n")
    (tmp_path / "edge.nft").write_text(
        'include "secret.conf"\ntable inet x { chain c { type filter hook forward priority 0; } }\n'
    )
    (tmp_path / "p.yaml").write_text("ruleset: edge.nft\nclients: [{impl: curl}]\n")
    r = harness("verify", str(tmp_path / "p.yaml"), timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 2 and "nft refuses edge.nft" in out and "Traceback" not in out
    assert "hunter2" not in out and "password" not in out
    assert "secret.conf:1: error in an included file (its contents are not shown)" in " ".join(out.split())


def test_an_iptables_save_file_that_does_not_load_is_exit_2(tmp_path):
    (tmp_path / "bad.ipt").write_text("*filter\n-A NO_SUCH_CHAIN -j ACCEPT\nCOMMIT\n")
    (tmp_path / "p.yaml").write_text("ruleset: bad.ipt\nclients: [{impl: curl}]\n")
    r = harness("verify", str(tmp_path / "p.yaml"), timeout=60)
    assert r.returncode == 2 and "iptables-nft-restore refuses bad.ipt" in r.stderr
    assert "line 2 failed" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.netns
def test_an_iptables_save_edge_that_filters_ipv4_is_no_security_finding(tmp_path):
    """The family check reads the tables the kernel holds (iptables-nft-restore makes `ip
    filter`, `ip nat`, `ip raw`), not the file's text, which names no table."""
    (tmp_path / "edge.ipt").write_text((REPO / "tests" / "fixtures" / "iptables-helper-edge.ipt").read_text())
    (tmp_path / "p.yaml").write_text(
        "ruleset: edge.ipt\ntopology: server-nat\n"
        "server: {impl: pyftpdlib, tls: none, masquerade: off}\n"
        "clients: [{impl: ftplib, modes: [pasv, epsv]}]\n"
    )
    out = tmp_path / "r.json"
    r = harness("verify", str(tmp_path / "p.yaml"), "--json", str(out), timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "UNFILTERED" not in r.stdout and "pass!" not in r.stdout
    cases = json.loads(out.read_text())["cases"]
    assert cases and all(c["outcome"] == "pass" for c in cases)
    assert not any(c.get("evidence", {}).get("unfiltered") for c in cases)
