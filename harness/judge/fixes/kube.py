"""Fixes of FTP behind a Kubernetes Service (the kube topologies: kube-proxy's rules, no
cluster; docs/containers.md). Each is another topology, or another server setting, re-run."""

from __future__ import annotations

from harness.core.case import Case
from harness.judge.fixes import fix, server, topology

SPLIT = "balanced-to-another-backend"
AFFINITY = {"kube-clusterip": "kube-clusterip-affinity", "kube-nodeport": "kube-nodeport-affinity"}
NODEPORT = ("kube-nodeport", "kube-nodeport-affinity", "kube-nodeport-translated")


@fix(
    "kube-clientip-affinity",
    62,
    "sessionAffinity: ClientIP on the Service, so kube-proxy sends one client to one replica (-m recent)",
    "kube-proxy keeps the affinity per Service port (a -m recent list per KUBE-SEP chain), not per "
    "client across ports: its re-run says whether that kept this session together (--repeat shows the counts)",
    lambda c, v: c.topology in AFFINITY and v.check == SPLIT,
)
def _affinity(c: Case) -> Case:
    return topology(c, AFFINITY[c.topology])


@fix(
    "kube-pod-address",
    63,
    "each replica advertises its own pod address (no masquerade to the ClusterIP): a client pod reaches the "
    "replica that answered it directly, around the Service",
    "only for clients inside the cluster that connect to the address in the 227 reply; EPSV and clients "
    "that ignore the address still go through the Service",
    lambda c, v: c.topology.startswith("kube-clusterip") and v.check == SPLIT and c.server.masquerade,
)
def _pod_address(c: Case) -> Case:
    return server(c, masquerade=False)


@fix(
    "kube-hostnetwork",
    64,
    "one passive range per replica with host networking: each replica on a node of its own (hostNetwork) "
    "with a passive range of its own, forwarded to that node only; control through the Service's NodePort "
    "(externalTrafficPolicy: Local)",
    "one replica per node; each replica's range and its forward are kept in step by hand; a 227 naming the "
    "node's own address is a third party to clients that dialled the load balancer",
    lambda c, v: c.topology in NODEPORT and v.check in (SPLIT, "passive-port-translated"),
)
def _hostnetwork(c: Case) -> Case:
    return topology(c, "kube-hostnetwork")


@fix(
    "kube-same-nodeports",
    65,
    "publish each passive port as a NodePort of the same number (nodePort 50000-50009, which needs "
    "--service-node-port-range widened to take them)",
    "the node port range is the cluster's; and the Service still picks a replica for each data "
    "connection on its own: with more than one replica it fails at random instead",
    lambda c, v: c.topology == "kube-nodeport-translated" and v.check == "passive-port-translated",
)
def _same_nodeports(c: Case) -> Case:
    return topology(c, "kube-nodeport")
