"""verify: coverage analysis on nft JSON (pure), and a real run of the shipped plans."""
import pytest

from conftest import REPO, harness
from harness import coverage
from harness.rules import Rule


def rule(chain_hook, exprs, name="c"):
    return [{"chain": {"table": "t", "name": name, "hook": chain_hook}},
            {"rule": {"table": "t", "chain": name, "expr": exprs}}]


def dport(right):
    return {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": right}}


PASSIVE_DNAT = Rule("dnat", iif="wan0", daddr="203.0.113.10", dports="50000-50100", to="10.0.2.2")
PASSIVE_ALLOW = Rule("filter", iif="wan0", oif="lan0", daddr="10.0.2.2", dports="50000-50100")


def test_a_range_set_or_named_set_covers_the_passive_range():
    for right in ({"range": [50000, 50100]}, {"set": [21, {"range": [50000, 50100]}]}, "@passive"):
        doc = {"nftables": [{"set": {"name": "passive", "elem": [{"range": [50000, 50100]}]}}]
               + rule("prerouting", [dport(right), {"dnat": {"addr": "10.0.2.2"}}])}
        assert coverage.missing(doc, [PASSIVE_DNAT]) == []


def test_a_partial_range_or_only_port_21_is_missing():
    for right in ({"range": [50000, 50050]}, 21):
        doc = {"nftables": rule("prerouting", [dport(right), {"dnat": {"addr": "10.0.2.2"}}])}
        assert coverage.missing(doc, [PASSIVE_DNAT]) == [PASSIVE_DNAT]


def test_established_only_and_other_directions_do_not_count():
    state = {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}
    outward = {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lan0"}}
    doc = {"nftables": rule("forward", [state, {"accept": None}]) + rule("forward", [outward, {"accept": None}], "d")}
    assert coverage.missing(doc, [PASSIVE_ALLOW]) == [PASSIVE_ALLOW]


def test_ct_status_dnat_accept_covers_what_is_port_forwarded():
    ct = {"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}
    doc = {"nftables": rule("prerouting", [dport({"range": [50000, 50100]}), {"dnat": {"addr": "10.0.2.2"}}])
           + rule("forward", [ct, {"accept": None}], "f")}
    assert coverage.missing(doc, [PASSIVE_DNAT, PASSIVE_ALLOW]) == []


@pytest.mark.netns
def test_verify_names_the_missing_passive_range_and_exits_non_zero():
    r = harness("verify", str(REPO / "plans" / "vsftpd-edge-incomplete.yaml"), timeout=300)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    out = " ".join(r.stdout.split())
    assert "missing from your ruleset" in out
    assert "dnat tcp 50000-50100 -> 10.0.2.2" in out and "filter tcp 50000-50100" in out
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
    err = " ".join(r.stderr.split())
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{tmp_path / 'bad.nft'}: the ruleset file is not UTF-8 text: byte 0x80 at byte offset 15" in err
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("text, message", [
    ("ruleset: x.nft\ntopology: lb\nclients: [{impl: curl}]\n",
     "line 2: topology: expected one of server-nat, direct, got 'lb'"),
    ("ruleset: x.nft\nclients: [{impl: curl, modes: [EPSV]}]\n",
     "line 2: clients[0].modes[0]: expected one of pasv, epsv, port, eprt, got 'EPSV'"),
    ("ruleset: x.nft\nserver: {permit_foreign_addresses: on}\nclients: [curl]\n",
     "line 2: server.permit_foreign_addresses: unknown key; valid keys: impl, tls"),
    ("ruleset: x.nft\nclients: [{impl: curl}]\n", "x.nft: cannot read the ruleset file"),
])
def test_plans_share_the_scenario_schema_and_its_messages(tmp_path, text, message):
    (tmp_path / "p.yaml").write_text(text)
    r = harness("verify", str(tmp_path / "p.yaml"), timeout=60)
    assert r.returncode == 2 and message in " ".join(r.stderr.split()), r.stderr
