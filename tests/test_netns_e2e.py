"""End-to-end stories on real namespaces, real kernel NAT and the real conntrack helper.

Each test reads top-down: build the situation, run real software through it, look at what
really happened.
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, harness, left_by, netns_list

from harness.build import topologies
from harness.build.backends.netns import NetnsBackend, run_alive
from harness.core.case import ServerSpec

pytestmark = pytest.mark.netns


def root_state() -> dict[str, str]:
    """What a run must never change in the root namespace."""

    def sh(*cmd: str) -> str:
        return subprocess.run(cmd, capture_output=True, text=True).stdout

    sysctls = {
        k: open(f"/proc/sys/{k}").read()
        for k in (
            "net/ipv4/ip_forward",
            "net/ipv6/conf/all/disable_ipv6",
            "net/ipv6/conf/default/disable_ipv6",
            "net/bridge/bridge-nf-call-iptables",
            "net/ipv4/conf/all/rp_filter",
        )
    }
    return {
        "nft": sh("nft", "list", "ruleset"),
        "links": sh("ip", "-o", "link", "show"),
        "addrs": sh("ip", "-o", "addr", "show"),
        "routes": sh("ip", "route", "show"),
        **sysctls,
    }


@pytest.mark.parametrize("name", topologies.names())
def test_every_topology_builds_and_tears_down_without_trace(name):
    _before_ns, before_root = netns_list(), root_state()
    lab = NetnsBackend().build(topologies.build(name, ServerSpec()), f"fth-test{os.getpid()}-0")
    try:
        assert set(lab.ns.values()) <= netns_list()
        r = lab.run(lab.topology.client, ["ping", "-c1", "-W1", lab.topology.server_public])
        ruleset = lab.run(lab.topology.middleboxes[0].name, ["nft", "list", "ruleset"]).stdout
        assert "policy drop" in ruleset
        # No veth end shares its index with its peer: the kernel would defer its link-up
        # (linkwatch, up to 1 s) and the lab's first connection would wait for it.
        for host in lab.ns:
            for link in json.loads(lab.run(host, ["ip", "-j", "link"]).stdout):
                assert link.get("link_index") != link["ifindex"], (host, link["ifname"])
    finally:
        lab.teardown()
    assert not set(lab.ns.values()) & netns_list()
    assert root_state() == before_root
    del r  # ping may be refused by the firewall; building is what this test is about


def test_plain_pasv_through_the_server_side_helper_passes_and_shows_the_rewrite(matrix):
    cases = matrix(
        "--topology",
        "server-nat-alg",
        "--tls",
        "none",
        "--mode",
        "pasv",
        "--pasv-address",
        "trust",
        "--masquerade",
        "off",
    )
    (case,) = cases.values()
    assert case["outcome"] == "pass"
    assert case["evidence"]["tampered"] is True
    rewrite = case["evidence"]["tampered_lines"][0]
    assert "(10,0,2,2," in rewrite["sent"] and "(203,0,113,10," in rewrite["received"]
    assert any("helper=ftp" in e for e in case["evidence"]["helper_expectations"]["fw"])


def test_tls_pasv_without_masquerade_fails_at_data_connect_naming_the_private_address(matrix):
    cases = matrix(
        "--topology",
        "server-nat,server-nat-alg",
        "--tls",
        "explicit",
        "--mode",
        "pasv",
        "--pasv-address",
        "trust",
        "--masquerade",
        "off,on",
    )
    for topo in ("server-nat", "server-nat-alg"):
        bad = cases[f"{topo}/pyftpdlib/ftplib/explicit/pasv/trust/masq-off"]
        assert (bad["outcome"], bad["stage"]) == ("fail", "data-connect")
        assert "10.0.2.2" in bad["diagnosis"] and bad["evidence"]["tampered"] is False
        fixed = cases[f"{topo}/pyftpdlib/ftplib/explicit/pasv/trust/masq-on"]
        assert fixed["outcome"] == "pass", fixed["diagnosis"]


def test_epsv_passes_through_server_nat_in_every_tls_mode(matrix):
    cases = matrix("--topology", "server-nat", "--mode", "epsv", "--masquerade", "off")
    assert len(cases) == 3
    assert {c["outcome"] for c in cases.values()} == {"pass"}


def test_active_mode_from_behind_client_nat_needs_the_helper_and_cleartext(matrix):
    cases = matrix(
        "--topology", "client-nat,client-nat-alg", "--mode", "port", "--tls", "none,explicit", "--masquerade", "off"
    )
    assert cases["client-nat/pyftpdlib/ftplib/none/port/n-a/masq-off"]["stage"] == "data-setup"
    plain_alg = cases["client-nat-alg/pyftpdlib/ftplib/none/port/n-a/masq-off"]
    assert plain_alg["outcome"] == "pass" and plain_alg["evidence"]["tampered"]
    tls_alg = cases["client-nat-alg/pyftpdlib/ftplib/explicit/port/n-a/masq-off"]
    assert tls_alg["outcome"] == "fail" and "foreign address" in tls_alg["diagnosis"]


def test_direct_baseline_passes_everything(matrix):
    cases = matrix("--topology", "direct", "--tls", "explicit")
    assert {c["outcome"] for c in cases.values()} == {"pass"}


def test_a_run_leaves_the_root_namespace_as_it_found_it(matrix):
    before_ns, before = netns_list(), root_state()
    matrix("--topology", "server-nat-alg,client-nat-alg", "--tls", "none", "--mode", "pasv,port")
    assert root_state() == before
    # New namespaces may only belong to runs still alive (other engineers' on this machine).
    assert not {n for n in netns_list() - before_ns if not (n.startswith("fth-") and run_alive(n.split("-")[1]))}


def _start_matrix() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "harness", "matrix", "--topology", "direct", "--jobs", "1"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_namespaces(p: subprocess.Popen, timeout: float = 30) -> set[str]:
    """The namespaces of `p`'s own run (its id from its first line), once it has built them;
    other runs on this machine are left out."""
    deadline = time.monotonic() + timeout
    run_id = None
    while run_id is None and time.monotonic() < deadline:
        if select.select([p.stderr], [], [], 0.1)[0]:
            m = re.match(r"^run ([0-9a-f]+):", p.stderr.readline())
            run_id = m.group(1) if m else None
    while run_id and time.monotonic() < deadline:
        ours = {n for n in netns_list() if n.startswith(f"fth-{run_id}-")}
        if ours:
            return ours
        time.sleep(0.05)
    pytest.fail("the run never built its namespaces")


def test_sigkilled_run_is_cleaned_by_clean():
    p = _start_matrix()
    left = _wait_for_namespaces(p)
    p.kill()
    p.wait()
    assert left & netns_list(), "SIGKILL leaves namespaces behind (that is why clean exists)"
    r = harness("clean", timeout=60)
    assert r.returncode == 0, r.stderr
    assert not left_by(left)


def test_sigterm_tears_everything_down():
    p = _start_matrix()
    ours = _wait_for_namespaces(p)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "Traceback" not in err
    assert not left_by(ours)


def test_clean_leaves_a_live_run_alone():
    p = _start_matrix()
    try:
        ours = _wait_for_namespaces(p)
        harness("clean", timeout=60)
        assert ours & netns_list() or p.poll() is not None
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=30)
    assert not left_by(ours)
