"""Stop a client's wait once the evidence shows that a middlebox dropped what it waits for.

A SYN (or SYN-ACK, or the RST that answers a SYN) that a rule drops is dropped again at
every retransmission, and so is a control packet the conntrack helper cannot parse: the
client could only time out. While a
session runs, a thread follows each middlebox's trace file and its helper log
(harness/observe/helper_log.py); at the first such drop it asks the client to stop waiting, and the
verdict cites the drop. A drop that leaves no evidence (a NAT clash, a silent path) still
waits for the timeout. Rejects are not waited on anyway.

Only packets of this session count: a tuple the middlebox traced in an earlier case (a
server still retransmitting its SYN-ACK to a client that gave up) is not a reason to stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.build.follow import read_lines
from harness.core.family import host_port
from harness.observe.helper_log import HelperDrop, Reader
from harness.observe.trace import TracePath, parse
from harness.observe.watch import Source


def decisive(
    p: TracePath,
    seen: frozenset[tuple[str, int, str, int]] = frozenset(),
    syns: frozenset[tuple[str, int, str, int]] = frozenset(),
) -> bool:
    """A packet a rule or a policy dropped (not rejected) that a new connection cannot do
    without: its SYN or SYN-ACK, or the RST that answers a SYN of this session (`syns`: the
    tuples of the session's traced SYNs, at any middlebox and hook)."""
    if p.verdict != "drop" or p.by is None or "reject" in p.by.text or p.key in seen:
        return False
    return p.opening or (p.rst and (p.dst, p.dport, p.src, p.sport) in syns)


@dataclass(frozen=True)
class Stop:
    """Why and when the harness stopped a client's wait."""

    path: TracePath | HelperDrop
    after_s: float  # since the session began

    def describe(self) -> str:
        if isinstance(self.path, HelperDrop):
            return f"{self.path.describe()} ({self.after_s:.2f} s into the session)"
        p = self.path
        what = "SYN" if p.syn else "SYN-ACK" if p.opening else "RST answering the SYN"
        rule = p.by.quote() if p.by else "?"
        return (
            f"{p.box} dropped the {what} {host_port(p.src, p.sport)} -> {host_port(p.dst, p.dport)} "
            f"in its {p.hook} hook, by {rule} ({self.after_s:.2f} s into the session)"
        )


class DropWatch:
    """Follows the trace sources while a session runs; calls `interrupt` once, at the first
    decisive drop. `finish()` ends the watch and says whether it interrupted."""

    def __init__(self, sources: list[Source], interrupt: Callable[[], bool], interval: float = 0.03) -> None:
        self.sources, self.interrupt, self.interval = sources, interrupt, interval
        self._lines: dict[str, list[str]] = {s.box: [] for s in sources}
        self._offsets = {s.box: s.offset for s in sources}
        self._helpers = [Reader(s.box, s.helper, s.helper_offset) for s in sources if s.helper]
        self._done = threading.Event()
        self._t0 = time.monotonic()
        self.stop: Stop | None = None
        self._thread = threading.Thread(target=self._run, name="drop-watch", daemon=True)
        self._thread.start()

    def _poll(self) -> TracePath | HelperDrop | None:
        for r in self._helpers:
            if drops := r.take():
                return drops[0]
        fresh = False
        for s in self.sources:
            new, self._offsets[s.box] = read_lines(s.path, self._offsets[s.box])
            self._lines[s.box] += new
            fresh = fresh or bool(new)
        if not fresh:
            return None
        paths = {s.box: parse(s.box, self._lines[s.box]) for s in self.sources}
        syns = frozenset(p.key for ps in paths.values() for p in ps if p.syn)
        seen = {s.box: s.seen for s in self.sources}
        return next((p for box, ps in paths.items() for p in ps if decisive(p, seen[box], syns)), None)

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            if hit := self._poll():
                self.stop = Stop(hit, time.monotonic() - self._t0)
                if not self.interrupt():
                    self.stop = None
                return

    def finish(self) -> Stop | None:
        self._done.set()
        self._thread.join(timeout=2.0)
        return self.stop
