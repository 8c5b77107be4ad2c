"""What the middleboxes saw: new connections (with their NAT), the FTP helper's
expectations, and the firewall's reject counter.

Runs commands inside middlebox hosts through the Lab; never touches the kernel directly.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from . import flows
from .model import Middlebox
from .registry import read_lines


class MiddleboxWatch:
    """Follows one middlebox for the life of a lab; `take()` returns what is new."""

    def __init__(self, lab, box: Middlebox, workdir: Path) -> None:
        self.lab, self.box = lab, box
        # conntrack prints one line per event; stdbuf keeps it line by line.
        self.expect = _Follow(lab, box.name, workdir / f"{box.name}.expect.log",
                              ["stdbuf", "-oL", "conntrack", "-E", "expect", "-o", "xml"])
        self.conns = _Follow(lab, box.name, workdir / f"{box.name}.conns.log",
                             ["stdbuf", "-oL", "conntrack", "-E", "-e", "NEW"])
        self.gone = _Follow(lab, box.name, workdir / f"{box.name}.destroy.log",
                            ["stdbuf", "-oL", "conntrack", "-E", "-e", "DESTROY", "-p", "tcp"])
        self._counters = self.counters()
        self.destroyed: list[str] = []

    def counters(self) -> dict[str, int]:
        """Packets counted by the firewall's named counters (rejected, invalid)."""
        r = self.lab.run(self.box.name, ["nft", "-j", "list", "counters"], timeout=5)
        if r.returncode != 0:
            return {}
        return {item["counter"]["name"]: int(item["counter"].get("packets", 0))
                for item in json.loads(r.stdout).get("nftables", []) if "counter" in item}

    def take(self) -> tuple[list[str], list[str], dict[str, int]]:
        """(expectation events, new-connection events, counter deltas) since the last call."""
        now = self.counters()
        # A ruleset swap (proof replays, fresh balancer state) starts counters from zero.
        delta = {k: (v - self._counters.get(k, 0) if v >= self._counters.get(k, 0) else v)
                 for k, v in now.items()}
        self._counters = now
        self.destroyed = self.gone.take()  # read with the rest: one case's events
        expected = [e.line() for e in flows.expectations(self.box.name, self.expect.take())]
        return expected, self.conns.take(), delta

    def close(self) -> None:
        self.expect.close()
        self.conns.close()
        self.gone.close()


class _Follow:
    """A long-running command in a host whose output lines are read incrementally."""

    def __init__(self, lab, host: str, path: Path, argv: list[str],
                 stderr=subprocess.DEVNULL, append: bool = False) -> None:
        self.lab, self.path = lab, path
        self._offset = path.stat().st_size if append and path.exists() else 0
        self._out = open(path, "a" if append else "w")
        self.proc = lab.spawn(host, argv, stdout=self._out, stderr=stderr)

    def take(self) -> list[str]:
        lines, self._offset = read_lines(self.path, self._offset)
        return [line.strip() for line in lines if line.strip()]

    def close(self) -> None:
        self.lab.stop(self.proc, grace=0.5)
        self._out.close()
