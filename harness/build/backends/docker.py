"""The Docker backend: every host a container, every L2 segment a Docker bridge network.

Same Topology model as netns: the same nft rulesets from nat/, the same HAProxy config, the
same server and client code (the repository and /tmp are mounted at the same paths). Docker
objects are made with the docker SDK; processes in containers run through `docker exec`, so a
Lab still hands out ordinary Popen objects. Interfaces are renamed to the topology's names
(wan0, lan0, br0, eth0) so the rulesets apply unchanged.

Docker's own traps are avoided or reported: networks are `internal` with masquerading off
(no userland proxy, no NAT by the daemon); Docker's FORWARD DROP only matters where bridged
frames pass iptables, which `make docker-up` turns off in its daemon's own namespace.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from harness.build.backends import register
from harness.build.backends.base import Backend, BackendUnavailable, Lab, close_streams
from harness.build.backends.docker_images import DEFAULT_SOCKET, ImageError, images
from harness.build.backends.netns import release_run, run_alive
from harness.build.topology import Host, Middlebox, Topology
from harness.core.repo import REPO, nat_file

LABEL = "ftps-harness.run"


def _client() -> Any:  # a docker.DockerClient (the docker SDK has no type hints)
    import docker

    # mypy finds the repository's docker/ directory (Dockerfiles) as a namespace package, not the SDK
    return docker.DockerClient(base_url=os.environ.get("FTPS_HARNESS_DOCKER_HOST", DEFAULT_SOCKET), timeout=60)  # type: ignore[attr-defined]


def segments(topology: Topology) -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    """L2 segments: (name, subnet, [(host, ifname, ip)]). A bridge inside a host becomes one
    segment carrying the bridge's own address and every host cabled to its member ports."""
    out = []
    member_of: dict[tuple[str, str], str] = {}
    for b in topology.bridges:
        for m in b.members:
            member_of[(b.host, m)] = b.ifname
    bridged: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for link in topology.links:
        ends = [link.a, link.b]
        br = next(((p.host, member_of[(p.host, p.ifname)]) for p in ends if (p.host, p.ifname) in member_of), None)
        if br:
            bridged.setdefault(br, []).extend(
                (p.host, p.ifname, p.ip) for p in ends if (p.host, p.ifname) not in member_of
            )
            continue
        net = str(ipaddress.ip_interface(link.a.address or link.b.address).network)
        out.append((link.name, net, [(p.host, p.ifname, p.ip) for p in ends if p.ip]))
    for (host, ifname), members in bridged.items():
        b = next(x for x in topology.bridges if x.host == host and x.ifname == ifname)
        subnet = str(ipaddress.ip_interface(b.address).network) if b.address else None
        if subnet is None:  # a plain switch: the members' addresses give the subnet
            first = next(ip for _, _, ip in members if ip)
            port = next(p for link in topology.links for p in (link.a, link.b) if p.ip == first)
            subnet = str(ipaddress.ip_interface(port.address).network)
        hosts = ([(host, ifname, str(ipaddress.ip_interface(b.address).ip))] if b.address else []) + [
            m for m in members if m[2]
        ]
        out.append((f"{host}-{ifname}", subnet, hosts))
    return out


class DockerLab(Lab):
    python = "python3"

    def __init__(self, topology: Topology, prefix: str, client: Any) -> None:
        super().__init__(topology, prefix)
        self.docker = client
        self.sock = os.environ.get("FTPS_HARNESS_DOCKER_HOST", DEFAULT_SOCKET)
        self.containers: dict[str, str] = {}
        self.networks: list[str] = []
        self._procs: list[tuple[subprocess.Popen[str], str, Path]] = []
        self._lock = threading.Lock()
        self._down = False
        self._teardown_lock = threading.Lock()
        self._gone = False
        self.run_id = prefix.split("-")[1]

    # -- building -----------------------------------------------------------
    def _build(self, image_for: Callable[[Host], str]) -> None:
        topo = self.topology
        if any(p.mtu or p.rate for link in topo.links for p in (link.a, link.b)):
            raise RuntimeError(
                "the docker backend does not set link MTUs or rates (docs/path.md): use the netns backend"
            )
        labels = {LABEL: self.run_id}
        segs = segments(topo)
        for name, subnet, _ in segs:
            net = ipaddress.ip_network(subnet)
            from docker.types import IPAMConfig, IPAMPool

            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=str(net.broadcast_address - 1))])
            n = self.docker.networks.create(
                f"{self.prefix}-{name}",
                driver="bridge",
                internal=True,
                ipam=ipam,
                labels=labels,
                check_duplicate=True,
                options={"com.docker.network.bridge.enable_ip_masquerade": "false"},
            )
            self.networks.append(n.name)
        for host in topo.hosts:
            mine = [(f"{self.prefix}-{name}", ip) for name, _, hs in segs for h, _, ip in hs if h == host.name]
            if not mine:
                continue  # a plain switch: the Docker network is the switch
            is_box = isinstance(host, Middlebox)
            first_net, first_ip = mine[0]
            netcfg = self.docker.api.create_networking_config(
                {first_net: self.docker.api.create_endpoint_config(ipv4_address=first_ip)}
            )
            sysctls = {"net.ipv6.conf.all.disable_ipv6": "1"}
            if is_box:
                sysctls["net.ipv4.ip_forward"] = "1"
            c = self.docker.api.create_container(
                image_for(host),
                command=["sleep", "infinity"],
                name=f"{self.prefix}-{host.name}",
                labels=labels,
                working_dir=str(REPO),
                networking_config=netcfg,
                environment={"PYTHONPATH": str(REPO)},
                host_config=self.docker.api.create_host_config(
                    init=True,
                    cap_add=["NET_ADMIN", "NET_RAW"],
                    sysctls=sysctls,
                    binds={str(REPO): {"bind": str(REPO), "mode": "rw"}, "/tmp": {"bind": "/tmp", "mode": "rw"}},
                    network_mode=first_net,
                ),
            )
            cid = c["Id"]
            self.containers[host.name] = cid
            for net_name, ip in mine[1:]:
                self.docker.api.connect_container_to_network(cid, net_name, ipv4_address=ip)
            self.docker.api.start(cid)
        for _, _, hs in segs:
            for h, ifname, ip in hs:
                self._exec_ok(
                    h,
                    [
                        "sh",
                        "-c",
                        f"dev=$(ip -o -4 addr show | awk '$4 ~ /^{ip}\\// {{print $2}}'); "
                        f'[ "$dev" = "{ifname}" ] || {{ ip link set "$dev" down && '
                        f'ip link set "$dev" name {ifname} && ip link set {ifname} up; }}',
                    ],
                )
        for link in topo.links:  # secondary addresses (e.g. a second uplink address)
            for p in (link.a, link.b):
                for cidr in p.extra:
                    self._exec_ok(p.host, ["ip", "addr", "add", cidr, "dev", p.ifname])
        for host in topo.hosts:
            if host.name not in self.containers:
                continue
            script = ["ip route flush table main scope global 2>/dev/null || true"]
            script += [
                f"ip route replace {'default' if r.dst == 'default' else r.dst} via {r.via}"
                + (f" table {r.table}" if r.table != 254 else "")
                for r in host.routes
            ]
            script += [f"ip rule add from {p.src} table {p.table} priority 100" for p in host.policy]
            self._exec_ok(host.name, ["sh", "-c", " && ".join(script)])
        for box in topo.middleboxes:
            if box.ruleset is not None and box.name in self.containers:
                r = self.run(box.name, ["nft", "-f", "-"], input=box.ruleset.render(nat_file), timeout=20)
                if r.returncode != 0:
                    raise RuntimeError(f"nft refused the ruleset for {box.name}: {r.stderr.strip()}")

    def _exec_ok(self, host: str, argv: list[str]) -> None:
        r = self.run(host, argv, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"{host}: {' '.join(argv)[:120]}: {r.stderr.strip()[:300]}")

    # -- running ------------------------------------------------------------
    def _argv(self, host: str, argv: Sequence[str], interactive: bool) -> list[str]:
        return [
            "docker",
            "-H",
            self.sock,
            "exec",
            *(["-i"] if interactive else []),
            "-w",
            str(REPO),
            self.containers[host],
            *argv,
        ]

    def spawn(
        self,
        host: str,
        argv: Sequence[str],
        *,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = subprocess.PIPE,
        stderr: int | IO[Any] | None = subprocess.PIPE,
    ) -> subprocess.Popen[str]:
        pidfile = Path("/tmp") / f"ftps-harness-{self.prefix}-{time.monotonic_ns()}.pid"
        wrapped = ["sh", "-c", f'echo $$ > {pidfile}; exec "$@"', "sh", *argv]
        with self._lock:
            if self._down:
                raise RuntimeError("lab is torn down")
            p = subprocess.Popen(
                self._argv(host, wrapped, stdin == subprocess.PIPE),
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
                text=True,
            )
            self._procs.append((p, host, pidfile))
            return p

    def run(
        self, host: str, argv: Sequence[str], *, input: str | None = None, timeout: float = 10.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._argv(host, argv, input is not None),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            start_new_session=True,
        )

    def stop(self, proc: subprocess.Popen[str], grace: float = 2.0) -> None:
        entry = next((e for e in self._procs if e[0] is proc), None)
        if proc.poll() is None and entry:
            _, host, pidfile = entry
            try:
                pid = pidfile.read_text().strip()
                self.run(host, ["kill", "-TERM", pid], timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=grace)
        if entry:
            entry[2].unlink(missing_ok=True)
        close_streams(proc)

    def teardown(self) -> None:
        """Idempotent: a teardown cut short (an exception, a signal) is finished by the next."""
        with self._lock:
            self._down = True  # no new processes
        with self._teardown_lock:
            if self._gone:
                return
            for p, _, pidfile in self._procs:
                if p.poll() is None:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                pidfile.unlink(missing_ok=True)
            remove(self.docker, containers=list(self.containers.values()), networks=self.networks)
            self._gone = True  # only once everything is removed


def remove(client: Any, containers: list[str], networks: list[str]) -> None:
    for cid in containers:
        try:
            client.api.remove_container(cid, force=True)
        except Exception:
            pass
    for name in networks:
        try:
            client.api.remove_network(name)
        except Exception:
            pass


@register
class DockerBackend(Backend):
    name = "docker"
    # One daemon cannot hold two networks with the same subnet, and every lab of a topology
    # uses the same addresses: labs run one at a time.
    max_jobs = 1
    # Not yet: IPv6 needs enable_ipv6 networks, ip6 forwarding in router containers and
    # addresses without DAD (docs/ipv6.md). IPv6 cases are skips that say so.
    families = ("ipv4",)

    def cannot_build(self, family: str) -> str | None:
        return (
            None
            if family in self.families
            else (
                "the docker backend builds IPv4 labs only: its networks have no enable_ipv6 and its "
                "routers no IPv6 forwarding yet (docs/ipv6.md); run IPv6 cases with --backend netns"
            )
        )

    def preflight(self) -> None:
        if shutil.which("docker") is None:
            raise BackendUnavailable("the docker CLI is missing: install docker.io (`make docker-up` does)")
        try:
            self.client = _client()
            self.client.ping()
        except Exception as e:
            raise BackendUnavailable(
                f"no Docker daemon answers at {os.environ.get('FTPS_HARNESS_DOCKER_HOST', DEFAULT_SOCKET)} "
                f"({type(e).__name__}). Start the harness's own daemon with `make docker-up` (it runs "
                "dockerd in its own network namespace, so the host's firewall is never touched), or set "
                "FTPS_HARNESS_DOCKER_HOST to another daemon's socket."
            ) from None
        try:
            self.images = images(self.client)
        except ImageError as e:
            raise BackendUnavailable(str(e)) from None
        for problem in traps():
            raise BackendUnavailable(problem)

    def build(self, topology: Topology, prefix: str) -> DockerLab:
        if not hasattr(self, "client"):
            self.preflight()
        lab = DockerLab(topology, prefix, self.client)
        try:
            lab._build(lambda h: self.images[h.role if h.role in ("client", "server") else "middlebox"])
        except BaseException:
            lab.teardown()
            raise
        return lab

    def inspect_ruleset(self, text: str, loader: Sequence[str] = ("nft", "-f", "-")) -> dict[str, Any]:
        from harness.build.backends.netns import NetnsBackend

        return NetnsBackend().inspect_ruleset(text, loader)  # pure nft parsing; a throwaway netns is enough

    def clean(self, force: bool = False, run_id: str | None = None) -> list[str]:
        try:
            client = _client()
            client.ping()
        except Exception:
            return []
        removed = []
        runs: dict[str, tuple[list[str], list[str]]] = {}
        for c in client.api.containers(all=True, filters={"label": LABEL}):
            rid = c["Labels"].get(LABEL, "")
            runs.setdefault(rid, ([], []))[0].append(c["Id"])
        for n in client.api.networks(filters={"label": LABEL}):
            rid = n["Labels"].get(LABEL, "")
            runs.setdefault(rid, ([], []))[1].append(n["Name"])
        for rid, (cs, ns) in runs.items():
            if run_id is not None and rid != run_id:
                continue
            if not force and run_id is None and run_alive(rid):
                continue
            remove(client, cs, ns)
            removed += [f"container {c[:12]}" for c in cs] + [f"network {n}" for n in ns]
            if rid != run_id:
                release_run(rid)
        return removed


def traps() -> list[str]:
    """Docker settings that would silently change what the harness measures. Only the
    harness's own daemon (namespace ftps-docker) can be inspected from here."""
    problems: list[str] = []
    if not Path("/run/netns/ftps-docker").exists():
        return problems
    fwd = subprocess.run(
        ["ip", "netns", "exec", "ftps-docker", "iptables", "-S", "FORWARD"], capture_output=True, text=True
    ).stdout
    nf = subprocess.run(
        ["ip", "netns", "exec", "ftps-docker", "cat", "/proc/sys/net/bridge/bridge-nf-call-iptables"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if "-P FORWARD DROP" in fwd and nf == "1":
        problems.append(
            "the Docker daemon's namespace has FORWARD policy DROP and passes bridged frames "
            "through iptables (bridge-nf-call-iptables=1): traffic inside the lab's networks "
            "could be cut. Restart it with `make docker-down docker-up` (--iptables=false)."
        )
    if "DOCKER-ISOLATION" in fwd:
        problems.append(
            "the Docker daemon installs DOCKER-ISOLATION rules, which drop traffic that "
            "Docker sees as crossing networks. Restart it with `make docker-down docker-up`."
        )
    return problems
