"""Kubernetes-shaped Services without a cluster (docs/containers.md): kube-proxy's rules as
harness/build/kube_proxy.py writes them, the kube topologies as data, the clients dialling a
NodePort, and the checks and fixes on observations recorded from real runs. No network (the
rulesets are loaded into a scratch namespace of their own where root can)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

import clients
from harness.build import kube_proxy, topologies
from harness.core.case import Case, ClientSpec, NetSpec, ServerSpec

KUBE = REPO / "nat" / "kube"


def _case(topology: str, mode: str = "epsv", tls: str = "explicit") -> Case:
    return Case(topology, ServerSpec(tls=tls, masquerade=True), ClientSpec("curl", mode), NetSpec())


# --- the clients dial the published control port ---------------------------------------


def test_every_client_dials_the_nodeport_the_topology_publishes():
    topo = topologies.build("kube-nodeport", ServerSpec())
    ctx = clients.ClientContext("203.0.113.10", Path("/ca.pem"), port=topo.dial_port(21))
    case = _case("kube-nodeport")
    curl = clients.get("curl")
    assert curl.url(case, ctx).startswith("ftp://203.0.113.10:30021/")  # type: ignore[attr-defined]
    lftp = clients.get("lftp")
    script = lftp.script(case, ctx, Path("/up"), Path("/down"), "f")  # type: ignore[attr-defined]
    assert "ftp://203.0.113.10:30021" in script
    assert clients.get("ftplib").request(case, ctx).port == 30021  # type: ignore[attr-defined]
    implicit = _case("kube-nodeport", tls="implicit")
    assert clients.ClientContext("x", Path("/ca"), port=topo.dial_port(990)).dial_port(implicit) == 30990
    assert clients.ClientContext("x", Path("/ca")).dial_port(implicit) == 990  # nothing published


# --- kube-proxy's rules, as files ------------------------------------------------------


def test_the_committed_rulesets_are_the_generators_output():
    files = kube_proxy.files()
    assert sorted(files) == sorted(p.name for p in KUBE.glob("*.rules"))
    for name, text in files.items():
        assert (KUBE / name).read_text() == text, f"nat/kube/{name}: run .venv/bin/python -m harness.build.kube_proxy"


def test_chain_names_are_kube_proxys_own_hashes():
    # kube-proxy's own test data: ns1/svc1:p80 over tcp is KUBE-SVC-XPGD46QRK7WJZT7O, its
    # endpoint 10.180.0.1:80 KUBE-SEP-SXIVWICOYRO3J4NJ (pkg/proxy/iptables/proxier_test.go)
    assert kube_proxy._hash("ns1/svc1:p80tcp") == "XPGD46QRK7WJZT7O"
    assert kube_proxy._hash("ns1/svc1:p80tcp10.180.0.1:80") == "SXIVWICOYRO3J4NJ"


def test_each_passive_port_is_a_service_port_of_its_own():
    text = (KUBE / "ftp-service-translated.rules").read_text()
    svcs = {line.split()[0] for line in text.splitlines() if line.startswith(":KUBE-SVC-")}
    assert len(svcs) == 12  # ftp, ftps and 10 passive ports
    for i, port in enumerate(range(50000, 50010)):
        assert f"--comment ftp/ftp-server:pasv-{port} -m tcp -p tcp --dport {30100 + i} -j KUBE-EXT-" in text
        assert f"-j DNAT --to-destination 10.244.0.11:{port}" in text
    assert "-m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-" in text
    assert "-m recent" not in text


def test_client_ip_affinity_is_written_as_kube_proxy_writes_it():
    text = (KUBE / "ftp-service-affinity.rules").read_text()
    checks = [l for l in text.splitlines() if "--rcheck" in l]
    sets = [l for l in text.splitlines() if "--set" in l]
    assert len(checks) == len(sets) == 24  # per Service port, per endpoint
    sep = checks[0].split("--name ")[1].split()[0]
    assert f"-m recent --name {sep} --rcheck --seconds 10800 --reap -j {sep}" in checks[0]
    assert any(f"-m recent --name {sep} --set -m tcp -p tcp -j DNAT" in l for l in sets)


def _loads_in_a_scratch_namespace() -> bool:
    return os.geteuid() == 0 and bool(shutil.which("unshare")) and bool(shutil.which("iptables-nft-restore"))


@pytest.mark.skipif(not _loads_in_a_scratch_namespace(), reason="needs root, unshare and iptables-nft-restore")
@pytest.mark.parametrize("name", sorted(p.name for p in KUBE.glob("*.rules")))
def test_every_generated_ruleset_loads(name):
    text = (KUBE / name).read_text()
    r = subprocess.run(
        ["unshare", "--net", "iptables-nft-restore", "--test"], input=text, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


# --- the checks, on observations recorded from real runs --------------------------------

FIX = REPO / "tests" / "fixtures" / "observations"


def _judged(case_id: str):
    from harness.judge import checks
    from harness.observe import recording

    return checks.judge(recording.load(FIX / (case_id.replace("/", "__") + ".json")))


def test_a_data_connection_on_the_other_replica_names_the_endpoint_chain_of_each():
    v = _judged("kube-nodeport/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on")
    lb = v.evidence.balancer
    assert (v.outcome, v.stage, v.check) == ("fail", "data-connect", "balanced-to-another-backend")
    assert lb is not None
    other = next(c for c in lb.data if c.backend != c.control)
    assert other.control == lb.control  # one control connection: the session's, as the server logged it
    assert other.control_chain and other.control_chain.startswith("KUBE-SEP-")
    assert other.chain and other.chain.startswith("KUBE-SEP-") and other.chain != other.control_chain
    assert f"{other.control_chain} chose {lb.control} for the control connection" in v.diagnosis
    assert f"{other.chain} chose {other.backend}" in v.diagnosis
    assert f"This session had {len(lb.data)} data connection(s)" in v.diagnosis and "--repeat" in v.diagnosis
    assert not lb.affinity and "sessionAffinity" not in v.diagnosis
    # the NodePort renumbers the control port: 30021 is not taken for a data connection
    assert all(c.port in range(50000, 50010) for c in lb.data)


def test_client_ip_affinity_is_seen_and_said_to_be_kept_per_service_port():
    v = _judged("kube-nodeport-affinity/pyftpdlib/ftplib/explicit/pasv/control/masq-on")
    assert v.check == "balanced-to-another-backend" and v.evidence.balancer and v.evidence.balancer.affinity
    assert "sessionAffinity: ClientIP was in place (the traced chains checked a -m recent list)" in v.diagnosis
    assert "per Service port" in v.diagnosis


def test_a_passive_range_published_as_other_nodeports_is_the_translated_port_check():
    v = _judged("kube-nodeport-translated/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on")
    assert (v.outcome, v.stage, v.check) == ("fail", "data-connect", "passive-port-translated")
    assert "30100-30109 outside -> 50000-50009 on the server" in v.diagnosis
    assert "ended at node, untranslated" in v.diagnosis and v.evidence.untranslated
    port = int(v.diagnosis.split("advertised its own port ")[1].split()[0])
    assert f"the public port was {30100 + port - 50000}" in v.diagnosis


# --- the fixes ---------------------------------------------------------------------------


def _fixes(case_id: str) -> dict[str, Case]:
    from harness.judge import fixes
    from harness.observe import recording

    obs = recording.load(FIX / (case_id.replace("/", "__") + ".json"))
    return {f.name: c for f, c in fixes.candidates(obs.case, _judged(case_id))}


def test_the_kube_fixes_are_other_topologies_or_settings_to_re_run():
    split = _fixes("kube-nodeport/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on")
    assert split["kube-clientip-affinity"].topology == "kube-nodeport-affinity"
    assert split["kube-hostnetwork"].topology == "kube-hostnetwork"
    assert "kube-pod-address" not in split  # outside clients cannot reach a pod's address
    translated = _fixes("kube-nodeport-translated/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on")
    assert translated["kube-same-nodeports"].topology == "kube-nodeport"
    assert translated["kube-hostnetwork"].topology == "kube-hostnetwork"
    assert "kube-clientip-affinity" not in translated and "same-port-numbers" not in translated
    pinned = _fixes("kube-nodeport-affinity/pyftpdlib/ftplib/explicit/pasv/control/masq-on")
    assert "kube-clientip-affinity" not in pinned and "kube-hostnetwork" in pinned


def test_the_hostnetwork_fix_gives_each_replica_a_range_of_its_own():
    topo = topologies.build("kube-hostnetwork", ServerSpec())
    assert [str(topo.host(s).passive) for s in topo.servers] == ["50000-50004", "50005-50009"]
    assert topo.dial_port(21) == 21  # the load balancer listens on 21 itself


@pytest.mark.parametrize("name", [n for n in topologies.names() if n.startswith("kube-")])
def test_the_replicas_share_one_ftp_home(name):
    # a file uploaded in one session is there in the next, whichever replica answers it
    assert topologies.build(name, ServerSpec()).shared_home
