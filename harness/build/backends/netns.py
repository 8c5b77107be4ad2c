"""The netns backend: every host is a Linux network namespace, every link a veth pair.

Kernel objects are made with pyroute2 (namespaces, links, addresses, routes) and nft (the
middlebox rulesets). Nothing is ever created in, or changed in, the root namespace: veth
pairs are born directly inside their namespaces.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from pyroute2 import IPRoute, netns

from harness.build.backends import _netfilter, register
from harness.build.backends.base import Backend, BackendUnavailable, Lab, close_streams
from harness.build.topology import Host, Link, Middlebox, Topology
from harness.build.tracing import trace_table
from harness.core import family
from harness.core.repo import nat_file

NAME_PREFIX = "fth-"  # every namespace this harness makes starts with it
STATE_DIR = Path("/run/ftps-harness")  # <run-id>.pid: which process owns a run's objects

# Inside every namespace: what a host needs and nothing the root namespace is asked for.
# IPv6 is off unless the lab is IPv6; then addresses skip duplicate address detection
# (usable at once) and routers forward IPv6 too.
HOST_SYSCTLS = {
    "ipv4": {"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1"},
    "ipv6": {
        "net/ipv6/conf/all/disable_ipv6": "0",
        "net/ipv6/conf/default/disable_ipv6": "0",
        "net/ipv6/conf/all/accept_dad": "0",
        "net/ipv6/conf/default/accept_dad": "0",
        "net/ipv6/conf/all/accept_ra": "0",
        "net/ipv6/conf/default/accept_ra": "0",
    },
}
ROUTER_SYSCTLS = {
    "ipv4": {"net/ipv4/ip_forward": "1"},
    "ipv6": {"net/ipv4/ip_forward": "1", "net/ipv6/conf/all/forwarding": "1"},
}
IFA_F_NODAD = 0x02
# The first end of every veth pair gets its own interface index, far above the ones the kernel
# gives in a fresh namespace (lo=1, 2, 3...), so it never equals its peer's. The kernel treats
# a link change of a device whose index equals its link's index as not urgent and defers it
# up to 1 s (linkwatch): operstate stays DOWN, IPv6 answers no neighbour solicitation and a
# bridge forwards nothing from that port, and the lab's first connection waits.
VETH_INDEX = 1000


def _in_netns(name: str, fn: Callable[[], object]) -> None:
    """Run fn() on a short-lived thread switched into namespace `name` (setns is per thread)."""
    err: list[BaseException] = []

    def body() -> None:
        try:
            netns.setns(name)
            fn()
        except BaseException as e:
            err.append(e)

    t = threading.Thread(target=body, name=f"setns-{name}")
    t.start()
    t.join()
    if err:
        raise err[0]


def _write_sysctls(name: str, values: dict[str, str]) -> None:
    def write() -> None:
        for key, value in values.items():
            Path("/proc/sys", key).write_text(value)

    _in_netns(name, write)


def _kill_pids(pids: list[int], grace: float = 1.0) -> None:
    """Stop processes by PID: SIGTERM, then SIGKILL after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if Path(f"/proc/{p}").exists() and not _is_zombie(p)]
            time.sleep(0.02)
        pids = alive
        if not pids:
            return


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return True


class NetnsLab(Lab):
    def __init__(self, topology: Topology, prefix: str) -> None:
        super().__init__(topology, prefix)
        self.ns = {h.name: f"{prefix}-{h.name}" for h in topology.hosts}
        self._procs: list[subprocess.Popen[str]] = []
        self._lock = threading.Lock()
        self._down = False  # no new processes
        self._teardown_lock = threading.Lock()
        self._gone = False  # every namespace removed: set only once that is true

    # -- building -----------------------------------------------------------
    def _build(self) -> None:
        topo = self.topology
        for name in self.ns.values():
            # iproute2 makes the namespace: pyroute2's netns.create() forks this
            # multi-threaded process, and a forked copy of a worker can outlive a signal.
            subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=10)
        for host in topo.hosts:
            fam = "ipv6" if topo.dual_stack else topo.family
            sysctls = dict(HOST_SYSCTLS[fam])
            if isinstance(host, Middlebox):
                sysctls.update(ROUTER_SYSCTLS[fam])
            _write_sysctls(self.ns[host.name], sysctls)
            if any(b.host == host.name for b in topo.bridges):
                try:  # a switch, not a firewall: bridged frames skip the IP hooks
                    _write_sysctls(self.ns[host.name], {"net/bridge/bridge-nf-call-iptables": "0"})
                except OSError:
                    pass
        # Netlink sockets are opened on a thread inside each namespace (no fork, no root ns).
        for n, link in enumerate(topo.links):

            def add_veth(link: Link = link, index: int = VETH_INDEX + n) -> None:
                with IPRoute() as ip:
                    ip.link(
                        "add",
                        ifname=link.a.ifname,
                        index=index,
                        kind="veth",
                        peer={"ifname": link.b.ifname, "net_ns_fd": self.ns[link.b.host]},
                    )

            _in_netns(self.ns[link.a.host], add_veth)
        for host in topo.hosts:
            _in_netns(self.ns[host.name], functools.partial(self._configure, host))
        for link in topo.links:
            for port in (link.a, link.b):
                if port.rate:  # tbf: netem is not in this kernel
                    r = self.run(
                        port.host,
                        [
                            "tc",
                            "qdisc",
                            "add",
                            "dev",
                            port.ifname,
                            "root",
                            "tbf",
                            "rate",
                            port.rate,
                            "burst",
                            "32kb",
                            "latency",
                            "200ms",
                        ],
                    )
                    if r.returncode != 0:
                        raise RuntimeError(f"tc refused the rate {port.rate} on {port.host}: {r.stderr.strip()}")
        for box in topo.middleboxes:
            if box.ruleset is not None:
                text = box.ruleset.render(nat_file)
                r = self.run(box.name, box.ruleset.loader, input=text, timeout=10)
                if r.returncode != 0:
                    raise RuntimeError(f"nft refused the ruleset for {box.name}: {r.stderr.strip()}")

    def enable_trace(self) -> bool:
        # With the trace table, the namespace's netfilter logger goes to nfnetlink_log, where
        # a conntrack helper says why it dropped a packet (harness/observe/helper_log.py).
        loggers = " && ".join(f"echo nfnetlink_log > /proc/sys/net/netfilter/nf_log/{pf}" for pf in (2, 10))
        logged = True
        for box in self.topology.middleboxes:
            r = self.run(
                box.name,
                ["sh", "-c", f"nft -f - || exit 1; ({loggers}) 2>/dev/null || exit 3"],
                input=trace_table(),
                timeout=10,
            )
            if r.returncode not in (0, 3):
                raise RuntimeError(f"nft refused the trace table on {box.name}: {r.stderr.strip()}")
            logged = logged and r.returncode == 0
        self.traced, self.helper_logged = True, logged
        return True

    def _configure(self, host: Host) -> None:
        """Bridges, addresses, links up, routes and policy rules of one host; runs inside
        its namespace."""

        def address(idx: int, cidr: str) -> None:
            if cidr:
                addr, plen = cidr.split("/")
                ip.addr(
                    "add",
                    index=idx,
                    address=addr,
                    prefixlen=int(plen),
                    **({"flags": IFA_F_NODAD} if ":" in addr else {}),
                )

        with IPRoute() as ip:
            ip.link("set", index=ip.link_lookup(ifname="lo")[0], state="up")
            master: dict[str, int] = {}
            for br in (b for b in self.topology.bridges if b.host == host.name):
                ip.link("add", ifname=br.ifname, kind="bridge")
                idx = ip.link_lookup(ifname=br.ifname)[0]
                address(idx, br.address)
                ip.link("set", index=idx, state="up")
                master.update(dict.fromkeys(br.members, idx))
            for port in self.topology.ports_of(host.name):
                idx = ip.link_lookup(ifname=port.ifname)[0]
                if port.ifname in master:
                    ip.link("set", index=idx, master=master[port.ifname])
                for cidr in (port.address, *port.extra):
                    address(idx, cidr)
                if port.mtu:
                    ip.link("set", index=idx, mtu=port.mtu)
                ip.link("set", index=idx, state="up")
            for route in host.routes:
                fam = family.of(route.via)
                dst = fam.default_route if route.dst == "default" else route.dst
                ip.route("add", dst=dst, gateway=route.via, table=route.table)
            for rule in host.policy:
                fam = family.of(rule.src)
                ip.rule(
                    "add",
                    family=socket.AF_INET6 if fam.version == 6 else socket.AF_INET,
                    src=rule.src,
                    src_len=fam.host_bits,
                    table=rule.table,
                    priority=100,
                )

    # -- running ------------------------------------------------------------
    def _argv(self, host: str, argv: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns[host], *argv]

    def spawn(
        self,
        host: str,
        argv: Sequence[str],
        *,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = subprocess.PIPE,
        stderr: int | IO[Any] | None = subprocess.PIPE,
    ) -> subprocess.Popen[str]:
        with self._lock:
            if self._down:
                raise RuntimeError("lab is torn down")
            # A new session: Ctrl-C reaches the harness only, which then stops this itself.
            p = subprocess.Popen(
                self._argv(host, argv), stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True, text=True
            )
            self._procs.append(p)
            return p

    def run(
        self, host: str, argv: Sequence[str], *, input: str | None = None, timeout: float = 10.0
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._argv(host, argv), input=input, capture_output=True, text=True, timeout=timeout, start_new_session=True
        )

    def stop(self, proc: subprocess.Popen[str], grace: float = 2.0) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=grace)
        close_streams(proc)

    def load_nft(self, host: str, script: str) -> str | None:
        got: list[str | None] = []

        def load() -> None:
            got.append(_netfilter.run(script))
            if got[0] is None:
                _netfilter.conntrack(flush=True)

        try:
            _in_netns(self.ns[host], load)
        except OSError:
            return super().load_nft(host, script)
        return got[0]

    def netfilter_state(self, host: str, flush: bool = False) -> tuple[dict[str, int], dict[str, int]]:
        got: list[tuple[dict[str, int], dict[str, int]]] = []
        try:
            _in_netns(self.ns[host], lambda: got.append((_netfilter.counters(), _netfilter.conntrack(flush))))
        except OSError:  # no libnftables or netlink refused: the commands say the same, slower
            return super().netfilter_state(host, flush)
        return got[0]

    def signal(self, proc: subprocess.Popen[str], sig: int) -> bool:
        # `ip netns exec` execs the command: the Popen's PID is the process itself.
        if proc.poll() is not None:
            return False
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def teardown(self) -> None:
        """Idempotent: a teardown cut short (an exception, a signal) is finished by the next."""
        with self._lock:
            self._down = True
            procs, self._procs = self._procs, []
        with self._teardown_lock:
            if self._gone:
                return
            for p in procs:
                try:
                    self.stop(p, grace=1.0)
                except Exception:
                    pass
            remove_namespaces(list(self.ns.values()))
            self._gone = True


def remove_namespaces(names: list[str]) -> None:
    """Kill every process left in these namespaces (by PID), then delete them."""
    existing = set(netns.listnetns())
    names = [n for n in names if n in existing]
    if not names:
        return
    pids_by_ns = netns.ns_pids()
    _kill_pids([pid for n in names for pid in pids_by_ns.get(n, []) if pid != os.getpid()])
    for n in names:
        try:
            netns.remove(n)
        except OSError:
            pass


@register
class NetnsBackend(Backend):
    name = "netns"

    def preflight(self) -> None:
        missing = [tool for tool in ("ip", "nft", "conntrack") if shutil.which(tool) is None]
        if missing:
            raise BackendUnavailable(
                f"missing tools: {', '.join(missing)}. Install them with `make setup` "
                "(Debian packages iproute2, nftables, conntrack)."
            )
        if os.geteuid() != 0:
            raise BackendUnavailable("the netns backend needs root or a user namespace")
        helper = Path("/sys/module/nf_conntrack_ftp")
        if not helper.exists():
            raise BackendUnavailable("this kernel has no conntrack FTP helper (nf_conntrack_ftp)")

    def build(self, topology: Topology, prefix: str) -> NetnsLab:
        lab = NetnsLab(topology, prefix)
        try:
            lab._build()
        except BaseException:
            lab.teardown()
            raise
        return lab

    def inspect_ruleset(self, text: str, loader: Sequence[str] = ("nft", "-f", "-")) -> dict[str, Any]:
        """Load `text` in a throwaway namespace; its ruleset as nft JSON (ValueError: the
        loader's message)."""
        import json

        name = f"{NAME_PREFIX}inspect{os.getpid()}-x"
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=10)
        try:
            r = subprocess.run(
                ["ip", "netns", "exec", name, *loader], input=text, capture_output=True, text=True, timeout=10
            )
            if r.returncode != 0:
                raise ValueError(r.stderr.strip())
            out = subprocess.run(
                ["ip", "netns", "exec", name, "nft", "-j", "list", "ruleset"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            listing: dict[str, Any] = json.loads(out.stdout or "{}")
            return listing
        finally:
            remove_namespaces([name])

    def clean(self, force: bool = False, run_id: str | None = None) -> list[str]:
        """Remove namespaces of runs whose owning process is gone (all of them with force),
        or only those of `run_id`."""
        runs: dict[str, list[str]] = {}
        for name in netns.listnetns():
            if name.startswith(NAME_PREFIX):
                rid = name[len(NAME_PREFIX) :].split("-", 1)[0]
                if run_id is None or rid == run_id:
                    runs.setdefault(rid, []).append(name)
        removed: list[str] = []
        for rid, names in sorted(runs.items()):
            if not force and run_alive(rid):
                continue
            remove_namespaces(names)
            removed += names
            if rid != run_id:
                release_run(rid)
        return removed


def claim_run(run_id: str) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    (STATE_DIR / f"{run_id}.pid").write_text(str(os.getpid()))


def release_run(run_id: str) -> None:
    (STATE_DIR / f"{run_id}.pid").unlink(missing_ok=True)


def run_alive(run_id: str) -> bool:
    try:
        pid = int((STATE_DIR / f"{run_id}.pid").read_text())
    except (OSError, ValueError):
        return False
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)
