"""The backend interface. A backend turns Topology data into a running Lab.

Only backends touch the kernel (or Docker). Everything above them runs commands in hosts
through a Lab and never knows how the hosts are made.
"""

from __future__ import annotations

import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import IO, Any

from harness.build.backends.readings import conntrack_stats, named_counters
from harness.build.topology import Topology

_SEP = "--conntrack-stats--"


def close_streams(proc: subprocess.Popen[Any]) -> None:
    """Close the pipes of a stopped process (every backend's stop() ends with this)."""
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream:
            try:
                stream.close()
            except OSError:
                pass


class BackendUnavailable(Exception):
    """The backend cannot run on this machine; the message says what is missing."""


class Lab(ABC):
    """A built topology: hosts you can run commands in."""

    python: str = sys.executable  # the Python that host-side harness code runs with in a host

    def __init__(self, topology: Topology, prefix: str) -> None:
        self.topology = topology
        self.prefix = prefix  # run-unique name prefix of every object this lab made
        self.traced = False  # the lab's trace table is loaded in every middlebox
        self.helper_logged = False  # conntrack helpers' messages go to nfnetlink_log group 0

    def enable_trace(self) -> bool:
        """Add the lab's own trace table (harness/build/tracing.py) to every middlebox; False where this
        backend cannot trace (observations then say the trace is unavailable)."""
        return False

    @abstractmethod
    def spawn(
        self,
        host: str,
        argv: Sequence[str],
        *,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        stdout: int | IO[Any] | None = subprocess.PIPE,
        stderr: int | IO[Any] | None = subprocess.PIPE,
    ) -> subprocess.Popen[str]:
        """Start a long-running process in `host`. The lab stops it at teardown."""

    @abstractmethod
    def run(
        self, host: str, argv: Sequence[str], *, input: str | None = None, timeout: float = 10.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in `host` to completion (bounded by `timeout`)."""

    @abstractmethod
    def stop(self, proc: subprocess.Popen[str], grace: float = 2.0) -> None:
        """Stop a process started with spawn(): terminate, then kill after `grace`."""

    def load_nft(self, host: str, script: str) -> str | None:
        """Run an nft script in `host` atomically (`nft -f -`) and empty its conntrack and
        expectation tables; nft's error text, or None."""
        r = self.run(
            host,
            ["sh", "-c", "nft -f - && { conntrack -F 2>/dev/null; conntrack -F expect 2>/dev/null; true; }"],
            input=script,
            timeout=10,
        )
        return None if r.returncode == 0 else (r.stderr.strip() or f"nft exited with {r.returncode}")

    def netfilter_state(self, host: str, flush: bool = False) -> tuple[dict[str, int], dict[str, int]]:
        """A middlebox's named nft counters (packets) and conntrack's statistics (summed over
        CPUs); with `flush`, then empty its conntrack and expectation tables."""
        script = (
            f"nft -j list counters 2>/dev/null; echo {_SEP}; conntrack -S"
            + ("; conntrack -F 2>/dev/null; conntrack -F expect 2>/dev/null" if flush else "")
            + "; true"
        )
        r = self.run(host, ["sh", "-c", script], timeout=10)
        listing, _, stats = r.stdout.partition(_SEP)
        return named_counters(listing), conntrack_stats(stats)

    def signal(self, proc: subprocess.Popen[str], sig: int) -> bool:
        """Send `sig` to a process started with spawn(); False where this backend cannot."""
        return False

    @abstractmethod
    def teardown(self) -> None:
        """Stop every process and remove every object this lab made. Idempotent."""


class Backend(ABC):
    name: str = "?"
    max_jobs: int | None = None  # labs that can exist at once (None: no limit)
    families: tuple[str, ...] = ("ipv4", "ipv6")  # address families its labs can be built in

    def cannot_build(self, family: str) -> str | None:
        """Why this backend cannot build a lab in `family` (its cases are then skips), or None."""
        return (
            None if family in self.families else f"the {self.name} backend builds {', '.join(self.families)} labs only"
        )

    @abstractmethod
    def preflight(self) -> None:
        """Raise BackendUnavailable with an operator's explanation if this can't run."""

    @abstractmethod
    def build(self, topology: Topology, prefix: str) -> Lab:
        """Build the topology. On failure, leave nothing behind and raise."""

    @abstractmethod
    def inspect_ruleset(self, text: str, loader: Sequence[str] = ("nft", "-f", "-")) -> dict[str, Any]:
        """Load an nft ruleset into a throwaway host and return `nft -j list ruleset`.
        Raises ValueError with nft's message if nft refuses it."""

    @abstractmethod
    def clean(self, force: bool = False, run_id: str | None = None) -> list[str]:
        """Remove what killed runs left behind (only `run_id`'s, if given); return it."""
