"""The conntrack helper's own words when it drops a packet (pure parsing).

nf_conntrack_ftp drops a control packet it cannot parse ("partial matching of `227 '") or
cannot act on ("cannot add expectation"), and says so through the namespace's netfilter
logger. In every traced middlebox the lab sends that logger to nfnetlink_log (group 0), and
`tcpdump -i nflog:0 -w FILE` keeps the messages. This module reads that pcap file: the
kernel's message, and the packet it was about.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from pathlib import Path

from harness.core.family import host_port

_PCAP_HEADER = 24
_NFLOG_HEADER = 4
_NFULA_PAYLOAD, _NFULA_PREFIX = 9, 10


@dataclass(frozen=True)
class HelperDrop:
    """One packet a conntrack helper dropped, in the kernel's words."""

    box: str
    message: str  # e.g. "nf_ct_ftp: dropping packet: partial matching of `227 '"
    src: str
    sport: int
    dst: str
    dport: int
    line: str  # the first line the packet carried, e.g. "227 Entering passive mode (...)."

    @property
    def key(self) -> tuple[str, int, str, int]:
        return (self.src, self.sport, self.dst, self.dport)

    def describe(self) -> str:
        said = f" ({self.line!r})" if self.line else ""
        return (
            f"{self.box}'s conntrack helper dropped {host_port(self.src, self.sport)} -> "
            f'{host_port(self.dst, self.dport)}{said}; the kernel logged "{self.message}"'
        )


def _packet(data: bytes) -> tuple[str, int, str, int, str] | None:
    """(src, sport, dst, dport, first payload line) of an IPv4/IPv6 TCP packet."""
    if not data:
        return None
    if data[0] >> 4 == 4 and len(data) >= 20:
        ihl, proto = (data[0] & 15) * 4, data[9]
        src, dst, tcp = ipaddress.ip_address(data[12:16]), ipaddress.ip_address(data[16:20]), data[ihl:]
    elif data[0] >> 4 == 6 and len(data) >= 40:
        proto = data[6]
        src, dst, tcp = ipaddress.ip_address(data[8:24]), ipaddress.ip_address(data[24:40]), data[40:]
    else:
        return None
    if proto != 6 or len(tcp) < 20:
        return None
    sport, dport = struct.unpack("!HH", tcp[:4])
    text = tcp[(tcp[12] >> 4) * 4 :].split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    return str(src), sport, str(dst), dport, text.decode("utf-8", errors="replace")[:200]


def _record(box: str, frame: bytes) -> HelperDrop | None:
    """One NFLOG frame -> a HelperDrop (None: not a helper's message about a TCP packet)."""
    prefix, payload, i = "", b"", _NFLOG_HEADER
    while i + 4 <= len(frame):
        size, kind = struct.unpack("<HH", frame[i : i + 4])  # host order (little-endian here)
        if size < 4:
            break
        value = frame[i + 4 : i + size]
        if kind == _NFULA_PREFIX:
            prefix = value.rstrip(b"\0").decode("utf-8", errors="replace").strip()
        elif kind == _NFULA_PAYLOAD:
            payload = value
        i += (size + 3) & ~3
    pkt = _packet(payload)
    if not prefix.startswith("nf_ct_") or pkt is None:
        return None
    return HelperDrop(box, prefix, *pkt)


class Reader:
    """Follows a pcap file that tcpdump is still writing; `take()` returns what is new."""

    def __init__(self, box: str, path: Path, offset: int = 0) -> None:
        self.box, self.path = box, path
        self.offset = max(offset, _PCAP_HEADER)

    def take(self) -> list[HelperDrop]:
        try:
            with open(self.path, "rb") as f:
                head = f.read(_PCAP_HEADER)
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        if len(head) < _PCAP_HEADER:
            return []
        order = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        out, i = [], 0
        while i + 16 <= len(data):
            _, _, incl, _ = struct.unpack(order + "IIII", data[i : i + 16])
            if i + 16 + incl > len(data):
                break  # a record still being written
            if drop := _record(self.box, data[i + 16 : i + 16 + incl]):
                out.append(drop)
            i += 16 + incl
        self.offset += i
        return out
