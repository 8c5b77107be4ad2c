"""Running middleboxes: their current nft ruleset, their proxy process (HAProxy), and the
per-case reset that gives a load balancer fresh state (so its order is the same every run).

Like the middlebox watch (harness/observe/watch.py), this only runs commands in hosts through
the Lab.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from harness.build import proxies
from harness.build.follow import Follow
from harness.build.topology import Middlebox, Topology
from harness.build.tracing import trace_table
from harness.build.tracking import tracking
from harness.core.repo import NAT_DIR, nat_file

if TYPE_CHECKING:
    from harness.build.backends.base import Lab


class ProxyFailed(RuntimeError):
    pass


@dataclass(frozen=True, eq=False)
class LoadedRuleset:
    """A middlebox's ruleset as loaded: the text, the file:line each line came from, and
    `nft -a -j list ruleset` (the handles nft gave each rule)."""

    text: str
    origins: tuple[str | None, ...]
    listing: dict[str, Any]


class Middleboxes:
    def __init__(self, lab: Lab, topology: Topology, workdir: Path) -> None:
        self.lab, self.topology, self.workdir = lab, topology, workdir
        self.boxes = {b.name: b for b in topology.middleboxes}
        rendered = {n: b.ruleset.render_lines(nat_file) for n, b in self.boxes.items() if b.ruleset}
        self.original = {n: "\n".join(l for l, _ in lines) for n, lines in rendered.items()}
        self.origins = {n: [o for _, o in lines] for n, lines in rendered.items()}
        self.current = dict(self.original)
        self.syntax = {n: b.ruleset.syntax for n, b in self.boxes.items() if b.ruleset}
        self._loaded: dict[str, LoadedRuleset] = {}
        self.alongside: dict[str, str] = {}  # nft text loaded next to a box's own ruleset (load_alongside)
        # A family a box leaves unfiltered: conntrack tracks it only with the lab's table (build/tracking.py)
        self.tracking = tracking(topology)
        for name, table in self.tracking.items():
            error = lab.load_nft(name, table)
            if error:
                raise RuntimeError(f"nft refused the tracking table on {name}: {error[:300]}")
        self.proxies: dict[str, Follow] = {}
        for box in self.boxes.values():
            if box.proxy:
                self._start_proxy(box)
            if box.translator:
                self._start_translator(box)

    # -- rulesets ---------------------------------------------------------------
    def load(self, box: str, text: str, syntax: str = "nft", extra: str = "") -> None:
        """Swap `box`'s ruleset (nft text, or an iptables-save file) atomically and forget its
        connections and expectations. `extra`: nft text loaded after it (load_alongside)."""
        # flush ruleset takes the lab's trace and tracking tables too
        ours = (trace_table() if self.lab.traced else "") + self.tracking.get(box, "")
        if syntax == "iptables":
            script = "nft flush ruleset && iptables-nft-restore && conntrack -F 2>/dev/null; conntrack -F expect 2>/dev/null; true"
            r = self.lab.run(box, ["sh", "-c", script], input=text, timeout=10)
            error = None if r.returncode == 0 else r.stderr.strip() or "iptables-nft-restore failed"
            if error is None and (extra or ours):
                error = self.lab.load_nft(box, extra + "\n" + ours)
        else:
            error = self.lab.load_nft(box, "flush ruleset\n" + text + "\n" + extra + "\n" + ours)
        if error:
            raise RuntimeError(f"nft refused the ruleset on {box}: {error[:300]}")
        self.current[box], self.syntax[box] = text, syntax
        if extra:
            self.alongside[box] = extra
        else:
            self.alongside.pop(box, None)
        self._loaded.pop(box, None)  # a reload numbers the rules anew

    def load_alongside(self, box: str, extra: str) -> None:
        """`box`'s own ruleset, unchanged, with nft text `extra` loaded next to it (the rules
        of a family its own ruleset leaves unfiltered, under proof)."""
        ruleset = self.boxes[box].ruleset
        assert ruleset is not None, "only a box with a ruleset leaves a family unfiltered"
        self.load(box, self.original[box], ruleset.syntax, extra)

    def restore(self) -> None:
        """Each box's own ruleset again; a box that had none, none again."""
        for box, text in self.original.items():
            if self.current.get(box) != text or box in self.alongside:
                ruleset = self.boxes[box].ruleset
                assert ruleset is not None, "only boxes with a ruleset have one to restore"
                self.load(box, text, ruleset.syntax)
        for box in [b for b in self.current if b not in self.original]:
            self.load(box, "")
            del self.current[box]

    def before_case(self) -> None:
        """Fresh balancing state: reload the ruleset (numgen counters), restart the proxy.
        (Every middlebox's conntrack tables are flushed before each case by MiddleboxWatch.)"""
        for name, box in self.boxes.items():
            if not box.fresh_per_case:
                continue
            if name in self.current:
                self.load(name, self.current[name], self.syntax[name], self.alongside.get(name, ""))
            if box.proxy:
                self._stop_proxy(name)
                self._start_proxy(box)

    def loaded(self, box: str) -> LoadedRuleset | None:
        """`box`'s ruleset as loaded from its files, with nft's listing of it (None for a ruleset
        the harness derived itself, e.g. in a proof replay: no file to point back to)."""
        text = self.current.get(box)
        if text is None or text != self.original.get(box) or box in self.alongside:
            return None
        if box not in self._loaded:
            r = self.lab.run(box, ["nft", "-a", "-j", "list", "ruleset"], timeout=10)
            listing = json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else {}
            self._loaded[box] = LoadedRuleset(text, tuple(self.origins[box]), listing)
        return self._loaded[box]

    # -- proxies ----------------------------------------------------------------
    def _start_proxy(self, box: Middlebox) -> None:
        assert box.proxy is not None, "a box with a proxy"
        adapter = proxies.get(box.proxy.kind)
        argv = adapter.argv(str(NAT_DIR / box.proxy.file), box.proxy.env)
        log = self.workdir / f"{box.name}.proxy.log"
        follow = Follow(self.lab, box.name, log, argv, stderr=subprocess.STDOUT, append=True)
        self.proxies[box.name] = follow
        vip, port = adapter.listening(box.proxy.env)
        vip = f"[{vip}]" if ":" in vip else vip
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = self.lab.run(box.name, ["ss", "-Hltn", f"src {vip} and sport = :{port}"], timeout=5)
            if r.stdout.strip():
                return
            if follow.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise ProxyFailed(f"{adapter.label} did not start on {box.name}: " + " | ".join(follow.take()[-3:]))

    def _start_translator(self, box: Middlebox) -> None:
        """tayga: its tun device, the routes into it, then the daemon in the foreground."""
        t = box.translator
        assert t is not None, "a box with a translator"
        if shutil.which("tayga") is None:
            raise ProxyFailed("tayga is not installed: Debian package tayga (`make setup` installs it)")
        data = self.workdir / f"{box.name}.tayga"
        data.mkdir(exist_ok=True)
        conf = data / "tayga.conf"
        conf.write_text(Template(nat_file(t.file)).substitute(dict(t.env), DATA_DIR=data))
        steps = [
            ["tayga", "-c", str(conf), "--mktun"],
            ["ip", "link", "set", t.tun, "up"],
            *(["ip", "route", "add", dst, "dev", t.tun] for dst in t.routes),
        ]
        for argv in steps:
            r = self.lab.run(box.name, argv, timeout=10)
            if r.returncode != 0:
                raise ProxyFailed(f"NAT64 on {box.name}: {' '.join(argv)}: {(r.stderr or r.stdout).strip()}")
        follow = Follow(
            self.lab,
            box.name,
            self.workdir / f"{box.name}.tayga.log",
            ["tayga", "-c", str(conf), "-n"],
            stderr=subprocess.STDOUT,
            append=True,
        )
        self.proxies[box.name] = follow
        time.sleep(0.05)
        if follow.proc.poll() is not None:
            raise ProxyFailed(f"tayga did not start on {box.name}: " + " | ".join(follow.take()[-3:]))

    def _stop_proxy(self, name: str) -> None:
        follow = self.proxies.pop(name, None)
        if follow:
            follow.close()

    def logs(self) -> dict[str, list[str]]:
        """New proxy log lines per middlebox since the last call."""
        return {name: f.take() for name, f in self.proxies.items()}

    def close(self) -> None:
        for name in list(self.proxies):
            self._stop_proxy(name)
