"""What the middleboxes saw: conntrack helper expectations and the firewall's reject counter.

Runs commands inside middlebox hosts through the Lab; never touches the kernel directly.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .model import Middlebox


class MiddleboxWatch:
    """Follows one middlebox for the life of a lab; `take()` returns what is new."""

    def __init__(self, lab, box: Middlebox, workdir: Path) -> None:
        self.lab, self.box = lab, box
        self.path = workdir / f"{box.name}.expect.log"
        self._out = open(self.path, "w")
        # conntrack prints one line per expectation event; stdbuf keeps it line by line.
        self.proc = lab.spawn(box.name, ["stdbuf", "-oL", "conntrack", "-E", "expect"],
                              stdout=self._out, stderr=subprocess.DEVNULL)
        self._offset = 0
        self._rejected = self.rejected_total()

    def rejected_total(self) -> int:
        r = self.lab.run(self.box.name, ["nft", "-j", "list", "counter", "inet", "ftpfw", "rejected"],
                         timeout=5)
        if r.returncode != 0:
            return 0
        for item in json.loads(r.stdout).get("nftables", []):
            if "counter" in item:
                return int(item["counter"].get("packets", 0))
        return 0

    def take(self) -> tuple[list[str], int]:
        """(new expectation events, packets rejected) since the last call."""
        with open(self.path) as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind("\n") + 1
        self._offset += len(data[:end].encode())
        now = self.rejected_total()
        rejected, self._rejected = now - self._rejected, now
        return [l.strip() for l in data[:end].splitlines() if l.strip()], rejected

    def close(self) -> None:
        self.lab.stop(self.proc, grace=0.5)
        self._out.close()
