"""Per-case packet captures in the middleboxes, named by vantage point (outside / inside).

tcpdump runs in the middlebox host on each of its interfaces for the length of one
session; with the TLS key logs the client and server write, Wireshark can decrypt them.
Like the middlebox watch (harness/observe/watch.py), this only runs commands in hosts through
the Lab.
"""

from __future__ import annotations

import re
import select
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.build.topology import Topology

if TYPE_CHECKING:
    from harness.build.backends.base import Lab

VANTAGE = {"wan0": "outside", "lan0": "inside", "br0": "inside"}


def case_dir(root: Path, case_id: str) -> Path:
    return root / "cases" / re.sub(r"[^A-Za-z0-9._-]+", "_", case_id)


class Captures:
    def __init__(self, lab: Lab, topology: Topology, directory: Path) -> None:
        self.lab, self.dir = lab, directory
        self.procs: list[tuple[subprocess.Popen[str], Path]] = []
        directory.mkdir(parents=True, exist_ok=True)
        for box in topology.middleboxes:
            for ifname, _ in topology.interfaces(box.name):
                name = VANTAGE.get(ifname, ifname)
                path = directory / f"{box.name}-{name}.pcap"
                # --immediate-mode: hand each packet over at once; with libpcap's default
                # ring-buffer timeout, packets still in the ring are lost when tcpdump stops.
                p = lab.spawn(
                    box.name,
                    ["tcpdump", "-i", ifname, "--immediate-mode", "-U", "-n", "-s", "0", "-w", str(path)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                self.procs.append((p, path))
        deadline = time.monotonic() + 5
        for p, _ in self.procs:  # wait until each one listens, so no packet is missed
            assert p.stderr is not None, "spawned with stderr=PIPE"
            while time.monotonic() < deadline:
                r, _, _ = select.select([p.stderr], [], [], 0.1)
                if r and "listening on" in (p.stderr.readline() or ""):
                    break
                if p.poll() is not None:
                    break

    def stop(self) -> list[Path]:
        time.sleep(0.05)  # the last packets (FIN, RST) of the session
        for p, _path in self.procs:
            self.lab.stop(p, grace=2.0)
        return [path for _, path in self.procs if path.exists()]
