"""Connections a middlebox saw, parsed from conntrack event lines (pure, no I/O).

`conntrack -E -e NEW` prints one line per new connection with its original tuple (as it
arrived) and its reply tuple (which reveals any NAT). `conntrack -E expect -o xml` prints the
FTP helper's expectations (pinholes), one <flow> element per line with explicit fields for
the expected connection, its mask and its master (the control connection). A proxy
(HAProxy) logs each connection it relayed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

_KV = re.compile(r"(\w[\w-]*)=(\S+)")


@dataclass(frozen=True)
class Flow:
    box: str
    proto: str
    src: str
    dst: str
    sport: int
    dport: int
    reply_src: str  # = the real destination after DNAT
    reply_dst: str  # = the source after SNAT, as the far side sees it
    reply_sport: int

    @property
    def dnat(self) -> bool:
        return (self.reply_src, self.reply_sport) != (self.dst, self.dport)

    @property
    def snat(self) -> bool:
        return self.reply_dst != self.src

    @property
    def real_dst(self) -> str:
        return self.reply_src

    @property
    def real_dport(self) -> int:
        return self.reply_sport

    def describe(self) -> str:
        s = f"{self.proto} {self.src}:{self.sport} -> {self.dst}:{self.dport}"
        if self.dnat:
            s += f" (DNAT to {self.real_dst}:{self.real_dport})"
        if self.snat:
            s += f" (SNAT from {self.reply_dst})"
        return s


@dataclass(frozen=True)
class Expectation:
    box: str
    src: str
    dst: str
    dport: int
    master: str  # "src:sport -> dst:dport" of the control connection
    event: str = "new"  # new | destroy
    helper: str = ""

    def matches(self, f: Flow) -> bool:
        return (f.src, f.dst, f.dport) == (self.src, self.dst, self.dport)

    def line(self) -> str:
        """conntrack's own text form of the event (what the evidence quotes)."""
        msrc, _, rest = self.master.partition(":")
        msport, _, mdst = rest.partition(" -> ")
        mdst, _, mdport = mdst.rpartition(":")
        return (
            f"[{self.event.upper()}] proto=6 src={self.src} dst={self.dst} sport=0 dport={self.dport} "
            f"master-src={msrc} master-dst={mdst} sport={msport} dport={mdport}"
            + (f" helper={self.helper}" if self.helper else "")
        )


def parse_flow(box: str, line: str) -> Flow | None:
    """One `conntrack -E` line -> Flow; None for lines that are not a new TCP/UDP flow."""
    if not line.startswith("[NEW]"):
        return None
    parts = line.split()
    proto = parts[1] if len(parts) > 1 else ""
    if proto not in ("tcp", "udp"):
        return None
    kv: dict[str, list[str]] = {}
    for k, v in _KV.findall(line):
        kv.setdefault(k, []).append(v)
    try:
        return Flow(
            box,
            proto,
            kv["src"][0],
            kv["dst"][0],
            int(kv["sport"][0]),
            int(kv["dport"][0]),
            kv["src"][1],
            kv["dst"][1],
            int(kv["sport"][1]),
        )
    except (KeyError, IndexError, ValueError):
        return None


def parse_expectation(box: str, line: str) -> Expectation | None:
    """One expectation event: an XML <flow> line from `conntrack -E expect -o xml`, or (in
    older recordings) conntrack's text line. None for anything else."""
    if line.startswith("<flow"):
        return parse_expectation_xml(box, line)
    if not line.startswith("[NEW]"):
        return None
    expected, _, master = line.partition(" master-src=")
    exp = dict(reversed(_KV.findall(expected)))  # the first src/dst/dport: the expected connection's
    mst = dict(_KV.findall("master-src=" + master))  # the master's own sport/dport follow master-src
    try:
        return Expectation(
            box,
            exp["src"],
            exp["dst"],
            int(exp["dport"]),
            f"{mst['master-src']}:{mst.get('sport', '?')} -> {mst['master-dst']}:{mst.get('dport', '?')}",
            helper=mst.get("helper", ""),
        )
    except (KeyError, ValueError):
        return None


def parse_expectation_xml(box: str, line: str) -> Expectation | None:
    try:
        flow = ET.fromstring(line)
    except ET.ParseError:
        return None

    def field(path: str) -> str:
        value = flow.findtext(path)
        if value is None:
            raise KeyError(path)
        return value

    try:
        master = (
            f"{field('layer3/master/src')}:{field('layer4/master/sport')} -> "
            f"{field('layer3/master/dst')}:{field('layer4/master/dport')}"
        )
        return Expectation(
            box,
            field("layer3/expected/src"),
            field("layer3/expected/dst"),
            int(field("layer4/expected/dport")),
            master,
            flow.get("type", "new"),
            flow.findtext("meta/helper-name") or "",
        )
    except (KeyError, ValueError):
        return None


def flows(box: str, lines: list[str]) -> list[Flow]:
    return [f for f in (parse_flow(box, l) for l in lines) if f is not None]


def expectations(box: str, lines: list[str]) -> list[Expectation]:
    return [e for e in (parse_expectation(box, l) for l in lines) if e is not None]
