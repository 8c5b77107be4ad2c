"""Kubernetes-shaped Services on real namespaces (kube-proxy's rules loaded with
iptables-nft-restore on a node box; no cluster): the passive range published as other
NodePorts fails every time with its check; ClientIP affinity does not keep a session on one
replica; the hostNetwork layout, a passive range per replica, passes every time."""

import pytest

pytestmark = pytest.mark.netns

TLS = ("--tls", "explicit", "--masquerade", "on", "--client", "ftplib")


def test_a_passive_range_published_as_other_nodeports_fails_with_its_check(matrix):
    cases = matrix("--topology", "kube-nodeport-translated", *TLS, "--mode", "pasv,epsv", "--pasv-address", "control")
    assert len(cases) == 2
    for c in cases.values():
        assert (c["outcome"], c["stage"], c["check"]) == ("fail", "data-connect", "passive-port-translated")
        assert "30100-30109 outside -> 50000-50009 on the server" in c["diagnosis"]
        assert "ended at node, untranslated" in c["diagnosis"]  # the client dialled 30021, the login worked


def test_client_ip_affinity_does_not_keep_a_session_on_one_replica(matrix):
    # 10 runs: each passes with probability about 1/6 (1/8 for three data connections on their
    # own, a little more when a passive port comes up twice), so all 10 passing would be a
    # 1-in-10^8 draw
    cases = matrix("--topology", "kube-nodeport-affinity", *TLS, "--mode", "epsv", "--repeat", "10")
    (c,) = cases.values()
    runs = c["runs"]
    assert len(runs) == 10 and any(r["outcome"] == "fail" for r in runs)
    assert {r["check"] for r in runs if r["outcome"] == "fail"} == {"balanced-to-another-backend"}
    assert c["evidence"]["balancer"]["affinity"] is True
    assert "KUBE-SEP-" in c["diagnosis"] and "did not keep them together" in c["diagnosis"]


def test_hostnetwork_replicas_with_a_range_each_pass_every_run(matrix):
    cases = matrix(
        "--topology", "kube-hostnetwork", *TLS, "--mode", "pasv,epsv", "--pasv-address", "control", "--repeat", "5"
    )
    assert len(cases) == 2
    for c in cases.values():
        assert [r["outcome"] for r in c["runs"]] == ["pass"] * 5
