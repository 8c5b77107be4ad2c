"""Topology files, run for real: a ruleset that does not load, a shipped topology read from a
copy of its file (the same verdicts), and verify on a two-box file (the box named, its own
file patched, the patch proven by re-running, and applied)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, harness

CLOUD = REPO / "examples" / "cloud-path"


def _copy_of_shipped(tmp_path: Path, name: str, as_name: str) -> Path:
    """The shipped file under another name, its nat/ files named absolutely (as a user's own)."""
    text = (REPO / "topologies" / f"{name}.yaml").read_text()
    text = text.replace("../nat/", f"{REPO / 'nat'}/").replace(f"name: {name}\n", f"name: {as_name}\n")
    text = "\n".join(
        line for line in text.splitlines() if not line.startswith(("with_helper:", "variants:", "  hairpin:"))
    )
    path = tmp_path / f"{as_name}.yaml"
    path.write_text(text + "\n")
    return path


@pytest.mark.netns
def test_a_ruleset_that_does_not_load_is_exit_2_naming_the_box_and_the_line(tmp_path):
    for f in CLOUD.glob("*"):
        (tmp_path / f.name).write_text(f.read_text())
    host = tmp_path / "server-host-firewall.nft"
    host.write_text(host.read_text().replace('tcp dport 21 accept comment "service ftp"', "tcp dport 21 acept"))
    for args in (("topology", "check"), ("matrix", "--client", "curl", "--mode", "epsv", "--topology")):
        r = harness(*args, str(tmp_path / "topology.yaml"), timeout=120)
        err = " ".join(r.stderr.split())
        assert r.returncode == 2, r.stdout + r.stderr
        assert "box server: its ruleset does not load: server-host-firewall.nft:18: Error: syntax error" in err
        assert "Traceback" not in r.stderr


@pytest.mark.netns
def test_a_shipped_topology_read_from_its_file_gives_todays_verdicts(tmp_path):
    mine = _copy_of_shipped(tmp_path, "server-nat", "my-server-nat")
    out = tmp_path / "results.json"
    args = ("--server", "pyftpdlib", "--client", "ftplib", "--tls", "none,explicit", "--family", "ipv4,ipv6")
    r = harness("matrix", "--topology", f"server-nat,{mine}", *args, "--json", str(out), timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    cases = json.loads(out.read_text())["cases"]
    verdicts: dict[str, dict[str, tuple[str, str, str]]] = {"server-nat": {}, "my-server-nat": {}}
    for c in cases:
        rest = c["id"].split("/", 1)[1]
        verdicts[c["topology"]][rest] = (c["outcome"], c["stage"], c["check"])
    assert len(verdicts["server-nat"]) >= 30
    assert verdicts["my-server-nat"] == verdicts["server-nat"]
    assert {o for o, _, _ in verdicts["server-nat"].values()} >= {"pass", "fail"}  # not a trivial equality


@pytest.mark.netns
def test_verify_on_a_two_box_file_names_the_box_and_proves_a_patch_to_its_file(tmp_path):
    for name in ("edge.nft", "server-host-firewall.nft"):
        (tmp_path / name).write_text((CLOUD / name).read_text())
    topo = (CLOUD / "topology.yaml").read_text()
    # the same path without the upstream ACL: the client on the edge's outside network
    topo = topo.replace("  acl:\n    role: firewall\n    ruleset: {files: [upstream-acl.nft]}\n", "")
    topo = re.sub(r"links:\n(.|\n)*", "", topo).replace("default via 198.51.100.1", "default via 203.0.113.1")
    topo += (
        "links:\n"
        "  internet: [client:eth0 203.0.113.50/24, edge:wan0 203.0.113.40/24]\n"
        "  server-lan: [edge:lan0 10.30.0.1/24, server:eth0 10.30.0.10/24]\n"
    )
    (tmp_path / "two-boxes.yaml").write_text(topo.replace("name: cloud-path", "name: two-boxes"))
    (tmp_path / "plan.yaml").write_text(
        "topology: two-boxes.yaml\n"
        "server: {impl: vsftpd, tls: explicit, masquerade: on, passive_range: 50000-50049}\n"
        "clients: [{impl: curl, modes: [pasv]}]\n"
    )
    patches = tmp_path / "patches"
    r = harness("verify", str(tmp_path / "plan.yaml"), "--patch-dir", str(patches), timeout=600)
    out = " ".join(r.stdout.split())
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-3000:]
    assert "server dropped the SYN" in out and "(server-host-firewall.nft:15)" in out
    assert "proven by re-running this case through your changed files" in out
    assert "- server (server-host-firewall.nft): allow to the box tcp 50000-50049" in out
    (patch,) = patches.glob("*.patch")
    assert "server-host-firewall.nft" in patch.read_text() and "edge.nft" not in patch.read_text()
    applied = subprocess.run(["patch", "-p0", "-d", str(tmp_path), "-i", str(patch)], capture_output=True, text=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = harness("verify", str(tmp_path / "plan.yaml"), timeout=300)
    assert again.returncode == 0 and "1 of 1 required cases work" in again.stdout, again.stdout[-2000:]
