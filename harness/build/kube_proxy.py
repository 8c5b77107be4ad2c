"""kube-proxy's iptables mode, written out as files: the rules its syncProxyRules feeds to
iptables-restore for a few Services (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXT-, KUBE-SVC-,
KUBE-SVL- and KUBE-SEP- chains, KUBE-MARK-MASQ, KUBE-POSTROUTING), in its own words and with
its own chain-name hashes, plus the jumps it installs in the built-in chains. No cluster: the
kube topologies load these files on a node box with iptables-nft-restore.

`python -m harness.build.kube_proxy` rewrites nat/kube/; a unit test checks that the committed
files are its output. Docs: docs/containers.md, "Kubernetes-shaped Services".
"""

from __future__ import annotations

import base64
import hashlib
import sys
from dataclasses import dataclass

from harness.core.repo import NAT_DIR

MARK = "0x4000"  # kube-proxy's masquerade bit
NODEPORTS_LAST = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"'


@dataclass(frozen=True)
class Port:
    """One port of a Service: kube-proxy writes one KUBE-SVC chain (and its KUBE-SEP chains) per port."""

    name: str
    port: int  # on the ClusterIP
    target: int  # on each endpoint
    node_port: int = 0  # 0: none


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    cluster_ip: str
    ports: tuple[Port, ...]
    endpoints: tuple[str, ...]  # the endpoints' addresses (pods, or nodes for hostNetwork pods)
    affinity: bool = False  # sessionAffinity: ClientIP
    timeout: int = 10800  # sessionAffinityConfig.clientIP.timeoutSeconds
    local: tuple[str, ...] | None = None  # externalTrafficPolicy: Local: the endpoints on this node


@dataclass(frozen=True)
class Node:
    cluster_cidr: str  # kube-proxy's --cluster-cidr
    services: tuple[Service, ...]
    pod_cidr: str = ""  # the CNI plugin masquerades this node's pods' egress (not kube-proxy)


def _hash(text: str) -> str:
    """kube-proxy's portProtoHash: base32 of sha256, first 16 characters."""
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def _q(text: str) -> str:
    return f'"{text}"' if " " in text else text


class _Writer:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.chains: list[str] = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]
        self.rules: list[str] = [
            f"-A KUBE-POSTROUTING -m mark ! --mark {MARK}/{MARK} -j RETURN",
            f"-A KUBE-POSTROUTING -j MARK --xor-mark {MARK}",
            '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
            f"-A KUBE-MARK-MASQ -j MARK --or-mark {MARK}",
        ]

    def chain(self, name: str) -> str:
        self.chains.append(name)
        return name

    def port(self, svc: Service, p: Port) -> None:
        name = f"{svc.namespace}/{svc.name}:{p.name}"
        h = _hash(name + "tcp")
        seps = {ip: f"KUBE-SEP-{_hash(name + 'tcp' + f'{ip}:{p.target}')}" for ip in svc.endpoints}
        svc_chain = self.chain(f"KUBE-SVC-{h}")
        cluster = f"-m tcp -p tcp -d {svc.cluster_ip} --dport {p.port}"
        self.rules.append(f'-A KUBE-SERVICES -m comment --comment "{name} cluster IP" {cluster} -j {svc_chain}')
        if p.node_port:
            ext = self.chain(f"KUBE-EXT-{h}")
            self.rules.append(
                f"-A KUBE-NODEPORTS -m comment --comment {name} -m tcp -p tcp --dport {p.node_port} -j {ext}"
            )
            self.rules += self._external(svc, name, ext, svc_chain, h)
        cidr = self.node.cluster_cidr
        self.rules.append(
            f'-A {svc_chain} -m comment --comment "{name} cluster IP" {cluster} ! -s {cidr} -j KUBE-MARK-MASQ'
        )
        self.rules += _balance(svc, name, svc_chain, svc.endpoints, seps, p.target)
        if p.node_port and svc.local is not None:
            self.rules += _balance(svc, name, f"KUBE-SVL-{h}", svc.local, seps, p.target)
        for ip in svc.endpoints:
            sep = self.chain(seps[ip])
            self.rules.append(f"-A {sep} -m comment --comment {name} -s {ip} -j KUBE-MARK-MASQ")
            pin = f"-m recent --name {sep} --set " if svc.affinity else ""
            self.rules.append(
                f"-A {sep} -m comment --comment {name} {pin}-m tcp -p tcp -j DNAT --to-destination {ip}:{p.target}"
            )

    def _external(self, svc: Service, name: str, ext: str, svc_chain: str, h: str) -> list[str]:
        """KUBE-EXT-: externalTrafficPolicy Cluster masquerades; Local keeps the client's address."""
        if svc.local is None:
            return [
                f'-A {ext} -m comment --comment "masquerade traffic for {name} external destinations" -j KUBE-MARK-MASQ',
                f"-A {ext} -j {svc_chain}",
            ]
        svl = self.chain(f"KUBE-SVL-{h}")
        return [
            f'-A {ext} -m comment --comment "pod traffic for {name} external destinations" -s {self.node.cluster_cidr} -j {svc_chain}',
            f'-A {ext} -m comment --comment "masquerade LOCAL traffic for {name} external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ',
            f'-A {ext} -m comment --comment "route LOCAL traffic for {name} external destinations" -m addrtype --src-type LOCAL -j {svc_chain}',
            f"-A {ext} -j {svl}",
        ]


def _balance(svc: Service, name: str, chain: str, eps: tuple[str, ...], seps: dict[str, str], target: int) -> list[str]:
    """writeServiceToEndpointRules: the affinity checks, then one random pick per endpoint."""
    out = []
    if svc.affinity:
        for ip in eps:
            out.append(
                f'-A {chain} -m comment --comment "{name} -> {ip}:{target}" '
                f"-m recent --name {seps[ip]} --rcheck --seconds {svc.timeout} --reap -j {seps[ip]}"
            )
    for i, ip in enumerate(eps):
        pick = f"-m statistic --mode random --probability {1 / (len(eps) - i):0.10f} " if i < len(eps) - 1 else ""
        out.append(f'-A {chain} -m comment --comment "{name} -> {ip}:{target}" {pick}-j {seps[ip]}')
    return out


def render(node: Node, title: str) -> str:
    """The node's rules as one iptables-restore file."""
    w = _Writer(node)
    for svc in node.services:
        for p in svc.ports:
            w.port(svc, p)
    w.rules.append(
        f"-A KUBE-SERVICES -m comment --comment {NODEPORTS_LAST} -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
    )
    head = [f"# {line}" if line else "#" for line in title.splitlines()]
    head += [
        "# Generated by harness/build/kube_proxy.py: do not edit, run `.venv/bin/python -m harness.build.kube_proxy`."
    ]
    filt = [
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD DROP [0:0]",  # the node's policy (Docker's, a distribution's); KUBE-FORWARD expects it
        ":OUTPUT ACCEPT [0:0]",
        ":KUBE-FORWARD - [0:0]",
        '-A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        *(  # the CNI plugin's rules, not kube-proxy's (as flannel writes them)
            f'-A FORWARD {way} {node.cluster_cidr} -m comment --comment "CNI: pod traffic" -j ACCEPT'
            for way in ("-s", "-d")
            if node.pod_cidr
        ),
        "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP",
        f'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark {MARK}/{MARK} -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        "COMMIT",
    ]
    base = [f":{c} ACCEPT [0:0]" for c in ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING")]
    jumps = [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ]
    if node.pod_cidr:  # the CNI plugin's rule, not kube-proxy's
        jumps.append(
            f"-A POSTROUTING -s {node.pod_cidr} ! -d {node.cluster_cidr} "
            '-m comment --comment "CNI: masquerade pod egress" -j MASQUERADE'
        )
    nat = ["*nat", *base, *(f":{c} - [0:0]" for c in w.chains), *jumps, *w.rules, "COMMIT"]
    return "\n".join([*head, *filt, *nat]) + "\n"


# --- the lab's Services ------------------------------------------------------------------

CLUSTER_CIDR = "10.244.0.0/16"
PODS = ("10.244.0.11", "10.244.0.12")  # the two replicas, s1 and s2
NODES = ("198.51.100.11", "198.51.100.12")  # kube-hostnetwork: the replicas' nodes
PASSIVE = range(50000, 50010)  # the servers' passive range


def ftp_service(affinity: bool, passive_node_ports: int) -> Service:
    """The FTP Deployment's Service: type NodePort, control on 30021 (FTPS 30990), and the
    passive range one port at a time (a Service takes no ranges), published as NodePorts
    from `passive_node_ports` on."""
    control = (Port("ftp", 21, 21, 30021), Port("ftps", 990, 990, 30990))
    passive = tuple(Port(f"pasv-{p}", p, p, passive_node_ports + i) for i, p in enumerate(PASSIVE))
    return Service("ftp", "ftp-server", "10.96.0.21", control + passive, PODS, affinity=affinity)


def hostnetwork_node(own: str) -> Node:
    """A node of kube-hostnetwork: its replica runs with hostNetwork, so the Service's
    endpoints are the nodes' addresses; externalTrafficPolicy Local keeps the client's address
    and sends a NodePort connection to this node's own replica. The passive ports are in no
    Service."""
    control = (Port("ftp", 21, 21, 30021), Port("ftps", 990, 990, 30990))
    svc = Service("ftp", "ftp-server", "10.96.0.21", control, NODES, local=(own,))
    return Node(CLUSTER_CIDR, (svc,))


def files() -> dict[str, str]:
    """nat/kube/NAME -> its text."""
    node = "the node of the kube topologies: the Service of two FTP replicas (10.244.0.11, 10.244.0.12)"
    out = {
        "ftp-service.rules": (
            Node(CLUSTER_CIDR, (ftp_service(False, PASSIVE[0]),), pod_cidr="10.244.0.0/24"),
            f"kube-proxy (iptables mode) on {node};\nsessionAffinity: None. The passive range is published as "
            "NodePorts of the same numbers (50000-50009),\nwhich needs --service-node-port-range widened to take them.",
        ),
        "ftp-service-affinity.rules": (
            Node(CLUSTER_CIDR, (ftp_service(True, PASSIVE[0]),), pod_cidr="10.244.0.0/24"),
            f"kube-proxy (iptables mode) on {node};\nsessionAffinity: ClientIP (timeoutSeconds 10800). "
            "The passive range as NodePorts of the same numbers.",
        ),
        "ftp-service-translated.rules": (
            Node(CLUSTER_CIDR, (ftp_service(False, 30100),), pod_cidr="10.244.0.0/24"),
            f"kube-proxy (iptables mode) on {node};\nsessionAffinity: None. The passive range 50000-50009 is "
            "published as NodePorts 30100-30109\n(the default NodePort range): one Service port each, translated.",
        ),
    }
    for i, ip in enumerate(NODES, 1):
        out[f"hostnetwork-n{i}.rules"] = (
            hostnetwork_node(ip),
            f"kube-proxy (iptables mode) on node n{i} ({ip}) of kube-hostnetwork: the FTP replica on this node runs\n"
            "with hostNetwork; the Service covers the control port only, externalTrafficPolicy: Local.",
        )
    return {name: render(n, title) for name, (n, title) in out.items()}


def main() -> int:
    folder = NAT_DIR / "kube"
    folder.mkdir(exist_ok=True)
    for name, text in files().items():
        (folder / name).write_text(text)
        print(f"wrote {folder / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
