"""verify: real runs of the shipped plans; advice proven by re-runs on the admin's own file."""
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
    assert r.returncode == 2 and "nft refuses it" in r.stderr and "Traceback" not in r.stderr


def test_an_included_files_contents_are_never_echoed(tmp_path):
    (tmp_path / "secret.conf").write_text("password=hunter2\n")
    (tmp_path / "edge.nft").write_text('include "secret.conf"\n'
                                       "table inet x { chain c { type filter hook forward priority 0; } }\n")
    (tmp_path / "p.yaml").write_text("ruleset: edge.nft\nclients: [{impl: curl}]\n")
    r = harness("verify", str(tmp_path / "p.yaml"), timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 2 and "nft refuses it" in out and "Traceback" not in out
    assert "hunter2" not in out and "password" not in out
    assert "secret.conf:1: error in an included file (its contents are not shown)" in " ".join(out.split())


def test_an_iptables_save_file_that_does_not_load_is_exit_2(tmp_path):
    (tmp_path / "bad.ipt").write_text("*filter\n-A NO_SUCH_CHAIN -j ACCEPT\nCOMMIT\n")
    (tmp_path / "p.yaml").write_text("ruleset: bad.ipt\nclients: [{impl: curl}]\n")
    r = harness("verify", str(tmp_path / "p.yaml"), timeout=60)
    assert r.returncode == 2 and "iptables-nft-restore refuses it" in r.stderr
    assert "line 2 failed" in r.stderr and "Traceback" not in r.stderr
