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
