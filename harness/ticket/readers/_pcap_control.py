"""The FTP control connections in a capture: which they are, which side is the client, and
their lines in order, in clear or decrypted with a key log.

A control connection is a TCP connection to a control port (the SYN's sender is the client;
without the SYN, the side not on the control port), or one whose first bytes are a greeting
(220) or USER/AUTH. Its lines are read from the TCP payload while it is clear (before AUTH TLS,
after CCC) and from what TLS decrypted in between; a retransmitted segment is read once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.core import family
from harness.ticket.log import Event, Kind, Where
from harness.ticket.readers._tshark import Frame

Endpoint = tuple[str, int]
_FIRST_LINE = re.compile(rb"^(220[ -]|(USER|AUTH|user|auth) )")
_FTP_LINE = re.compile(rb"^([A-Za-z]{3,4}( [\x20-\x7e]*)?|\d{3}([ -][\x20-\x7e]*)?)\r?\n")
_MAX_LINE = 64 * 1024  # a "line" longer than this is cut there
_MASK = 0xFFFFFFFF  # TCP sequence numbers wrap


@dataclass(frozen=True)
class Control:
    stream: int
    client: Endpoint
    server: Endpoint
    first: int  # its first and last packets
    last: int
    implicit: bool  # TLS from the first byte


@dataclass(frozen=True)
class Target:
    """Where a 227/229 (the client dials) or a PORT/EPRT (the server dials) says to connect."""

    packet: int
    host: str
    port: int
    control: Control


def endpoint(host: str, port: int) -> str:
    return family.host_port(host, port)


def find(frames: Iterable[Frame], ports: Iterable[int], implicit_ports: Iterable[int]) -> dict[int, Control]:
    """The control connections, by TCP stream."""
    ports, implicit = set(ports), set(implicit_ports)
    streams: dict[int, list[Frame]] = {}
    for f in frames:
        if f.icmp is None and f.stream is not None:
            streams.setdefault(f.stream, []).append(f)
    out = {}
    for stream, fs in streams.items():
        ends = _ends(fs, ports)
        if ends is not None:
            client, server = ends
            out[stream] = Control(stream, client, server, fs[0].number, fs[-1].number, server[1] in implicit)
    return out


def _ends(fs: list[Frame], ports: set[int]) -> tuple[Endpoint, Endpoint] | None:
    syn = next((f for f in fs if f.syn), None)
    first = syn or fs[0]
    a, b = (first.src, first.sport), (first.dst, first.dport)
    if b[1] in ports:
        return a, b
    if syn is None and a[1] in ports:
        return b, a
    said = next((f for f in fs if f.payload), None)
    if said is None or not (m := _FIRST_LINE.match(said.payload)):
        return None
    sender, to = (said.src, said.sport), (said.dst, said.dport)
    return (to, sender) if m.group(1).startswith(b"220") else (sender, to)


@dataclass
class _Conversation:
    c: Control
    file: str
    keys: bool
    events: list[Event] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    tls: bool = False  # the control connection is in TLS now
    told_encrypted: bool = False
    last_command: str = ""
    buf: dict[Kind, bytearray] = field(default_factory=lambda: {"sent": bytearray(), "received": bytearray()})
    next_seq: dict[Kind, int] = field(default_factory=dict)

    def frame(self, f: Frame) -> None:
        side: Kind = "sent" if (f.src, f.sport) == self.c.client else "received"
        if f.tls:
            self.tls = True
            if f.decrypted and not f.retransmission:
                self.feed(side, f.decrypted, f)
            elif f.undecrypted and not self.told_encrypted:
                self.told_encrypted = True
                why = "the key log has no keys for it" if self.keys else "without a key log"
                self.note(f, f"is encrypted from here; {why}, its commands and replies cannot be read")
            self.seen(side, f)
            return
        payload = self.fresh(side, f)
        if not payload or (self.tls and not _FTP_LINE.match(payload)):
            return  # nothing new, or a piece of a TLS record
        if self.tls:  # clear again: after CCC
            self.tls, self.told_encrypted = False, False
            self.note(f, "is in clear again from here (after CCC)")
        self.feed(side, payload, f)

    def note(self, f: Frame, says: str) -> None:
        text = f"the control connection {endpoint(*self.c.client)} -> {endpoint(*self.c.server)} {says}"
        self.events.append(Event("note", text, Where(self.file, packet=f.number), t=f.t))

    def seen(self, side: Kind, f: Frame) -> None:
        """Move this side's next expected sequence number past the segment, never back."""
        end, nxt = (f.seq + f.length) & _MASK, self.next_seq.get(side)
        if nxt is None or (end - nxt) & _MASK < 1 << 31:
            self.next_seq[side] = end

    def fresh(self, side: Kind, f: Frame) -> bytes:
        """The payload bytes not read before (a retransmission repeats some or all of them)."""
        nxt = self.next_seq.get(side)
        behind = 0 if nxt is None else (nxt - f.seq) & _MASK
        if behind >= 1 << 31:  # ahead of what was seen: a segment missing from the capture
            behind = 0
        self.seen(side, f)
        return f.payload[behind:]

    def feed(self, side: Kind, data: bytes, f: Frame) -> None:
        buf = self.buf[side]
        buf += data
        while (end := buf.find(b"\n")) >= 0 or len(buf) > _MAX_LINE:
            cut = end + 1 if end >= 0 else _MAX_LINE
            line = bytes(buf[:cut]).rstrip(b"\r\n").decode("utf-8", "replace")
            del buf[:cut]
            self.line(side, line, f)

    def line(self, side: Kind, text: str, f: Frame) -> None:
        where = Where(self.file, packet=f.number)
        if side == "sent":
            verb = text.split(" ", 1)[0].upper()
            self.last_command = verb
            if verb == "PASS":
                text = "PASS ******"
            elif verb in ("PORT", "EPRT") and (a := family.announced(text)) and a.ip:
                self.targets.append(Target(f.number, a.ip, a.port, self.c))
        else:
            code = text[:3]
            if code == "234" and text[3:4] != "-" and self.last_command == "AUTH":
                self.tls = True
            elif code in ("227", "229") and (a := family.announced(text)):
                self.targets.append(Target(f.number, a.ip or self.c.server[0], a.port, self.c))
        self.events.append(Event(side, text, where, t=f.t))


def conversation(c: Control, frames: Iterable[Frame], file: str, keys: bool) -> tuple[list[Event], list[Target]]:
    """The control connection's lines as sent/received events (PASS masked), and the data
    connections its 227/229/PORT/EPRT announced."""
    conv = _Conversation(c, file, keys, tls=c.implicit)
    for f in frames:
        if f.stream == c.stream and f.icmp is None:
            conv.frame(f)
    return conv.events, conv.targets
