"""What the middleboxes saw: new connections (with their NAT), the FTP helper's
expectations, the firewall's named counters, conntrack's statistics and, where the lab
traces, every connection attempt's path through the rules (harness/observe/trace.py).

Runs commands inside middlebox hosts through the Lab; never touches the kernel directly.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.build.follow import Follow
from harness.build.middleboxes import LoadedRuleset
from harness.build.topology import Middlebox
from harness.build.tracing import HARNESS_TABLES
from harness.observe import flows
from harness.observe.helper_log import Reader
from harness.observe.middlebox_view import MiddleboxView
from harness.observe.trace import SourceMap, parse, source_map, stats_delta

if TYPE_CHECKING:
    from harness.build.backends.base import Lab


@dataclass(frozen=True)
class Source:
    """One middlebox's trace, followed from `offset` (where the session began)."""

    box: str
    path: Path
    offset: int
    seen: frozenset[tuple[str, int, str, int]]  # tuples this middlebox traced before the session
    helper: Path | None = None  # its helper log (pcap), followed from helper_offset
    helper_offset: int = 0


class MiddleboxWatch:
    """Follows one middlebox for the life of a lab; `take()` returns what is new."""

    def __init__(self, lab: Lab, box: Middlebox, workdir: Path) -> None:
        self.lab, self.box = lab, box
        # conntrack prints one line per event; stdbuf keeps it line by line.
        self.expect = Follow(
            lab,
            box.name,
            workdir / f"{box.name}.expect.log",
            ["stdbuf", "-oL", "conntrack", "-E", "expect", "-o", "xml"],
        )
        self.conns = Follow(
            lab, box.name, workdir / f"{box.name}.conns.log", ["stdbuf", "-oL", "conntrack", "-E", "-e", "NEW"]
        )
        self.trace = (
            Follow(lab, box.name, workdir / f"{box.name}.trace.log", ["stdbuf", "-oL", "nft", "-a", "monitor", "trace"])
            if lab.traced
            else None
        )
        self.gone = Follow(
            lab,
            box.name,
            workdir / f"{box.name}.destroy.log",
            ["stdbuf", "-oL", "conntrack", "-E", "-e", "DESTROY", "-p", "tcp"],
        )
        self.helper: Reader | None = None
        if lab.helper_logged:
            pcap = workdir / f"{box.name}.helper.pcap"
            self._tcpdump = lab.spawn(
                box.name,
                ["tcpdump", "-i", "nflog:0", "-U", "-w", str(pcap)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            self.helper = Reader(box.name, pcap)
        self._counters, self._stats = self.read()
        self._seen: set[tuple[str, int, str, int]] = set()  # every tuple traced so far
        self._source_of: LoadedRuleset | None = None
        self._source: SourceMap = ({}, {})

    def trace_source(self) -> Source | None:
        """Where the next session's trace lines will appear (harness/run/early_stop.py)."""
        if not self.trace:
            return None
        return Source(
            self.box.name,
            self.trace.path,
            self.trace.offset,
            frozenset(self._seen),
            self.helper.path if self.helper else None,
            self.helper.offset if self.helper else 0,
        )

    def read(self, flush: bool = False) -> tuple[dict[str, int], dict[str, int]]:
        """The firewall's named counters (rejected, invalid) and conntrack's statistics
        (insert_failed, drop, early_drop, invalid, ...); with `flush`, then empty the
        conntrack and expectation tables."""
        return self.lab.netfilter_state(self.box.name, flush)

    def take(self, loaded: LoadedRuleset | None = None, flush: bool = False) -> MiddleboxView:
        """What this middlebox saw since the last call; `loaded`: its ruleset as loaded from its
        files (Middleboxes.loaded), to name the file and line of each rule the trace quotes.
        With `flush`, the conntrack and expectation tables are emptied afterwards: a case
        starts with take(flush=True), so its verdict never depends on the case before it."""
        now, stats_now = self.read(flush)
        # A ruleset swap (proof replays, fresh balancer state) starts counters from zero.
        delta = {k: (v - self._counters.get(k, 0) if v >= self._counters.get(k, 0) else v) for k, v in now.items()}
        self._counters = now
        stats, self._stats = self._stats, stats_now
        trace = parse(self.box.name, self.trace.take(), *self._sources(loaded)) if self.trace else []
        self._seen.update(p.key for p in trace)
        expected = [e.line() for e in flows.expectations(self.box.name, self.expect.take())]
        return MiddleboxView(
            flows=tuple(self.conns.take()),
            expectations=tuple(expected),
            rejected=delta.get("rejected", 0),
            invalid=delta.get("invalid", 0),
            traced=self.trace is not None,
            trace=tuple(trace),
            stats=stats_delta(stats, self._stats),
            destroyed=tuple(self.gone.take()),
            counters=tuple((k, n) for k, n in sorted(delta.items()) if n),
            helper_drops=tuple(self.helper.take()) if self.helper else (),
            tables=kernel_tables(loaded.listing) if loaded else (),
        )

    def _sources(self, loaded: LoadedRuleset | None) -> SourceMap:
        """source_map of the loaded ruleset, computed once per load."""
        if loaded is None:
            return {}, {}
        if self._source_of is not loaded:
            self._source_of, self._source = loaded, source_map(loaded.text, list(loaded.origins), loaded.listing)
        return self._source

    def close(self) -> None:
        self.expect.close()
        self.conns.close()
        self.gone.close()
        if self.trace:
            self.trace.close()
        if self.helper:
            self.lab.stop(self._tcpdump, grace=0.5)


def kernel_tables(listing: dict[str, Any]) -> tuple[str, ...]:
    """ "family name" of each table `nft -j list ruleset` shows, but the lab's own."""
    tables = (x["table"] for x in listing.get("nftables", []) if isinstance(x, dict) and "table" in x)
    return tuple(sorted({f"{t['family']} {t['name']}" for t in tables if t.get("name") not in HARNESS_TABLES}))
