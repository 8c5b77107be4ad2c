"""A packet capture (pcap or pcapng), read through tshark.

The events, in packet order (`Where.packet` is the frame number, `t` its time from the first
packet): the FTP control lines (commands sent by the client, replies received; PASS masked),
every connection attempt of a control or data connection with its outcome (a note or error
with a Dial), resets of established ones, and TLS notes (handshakes, resumption offers and
answers, the version, alerts). Which side is the client: the one that sent the SYN to the
control port (21, 990), else the one that sent USER/AUTH.

Without keys only what is in clear shows: the control lines before AUTH TLS and after CCC,
the handshakes, and the connections. With a key log (SSLKEYLOGFILE format) the whole control
conversation shows. `parse_with_keys` takes one; the registered parse uses the key log beside
the capture: the same name with `.keylog` (`case.pcap` -> `case.keylog`), else the only
`*.keylog` in its folder (none when there are several).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from harness.core import tls as tls_modes
from harness.core.inputs import InputError, read_text
from harness.ticket.log import Event, Log, Where
from harness.ticket.readers import _pcap_control as control
from harness.ticket.readers import _pcap_dials, _pcap_tls, _tshark, reader

MAGIC = (
    b"\xa1\xb2\xc3\xd4",  # pcap, microseconds, big-endian
    b"\xd4\xc3\xb2\xa1",  # little-endian
    b"\xa1\xb2\x3c\x4d",  # pcap, nanoseconds
    b"\x4d\x3c\xb2\xa1",
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
)
MAX_KEYLOG = 16 * 1024 * 1024
CONTROL_PORTS = frozenset(tls_modes.CONTROL_PORTS)  # 21, 990
IMPLICIT_PORTS = CONTROL_PORTS - set(tls_modes.HELPER_PORTS)  # 990: TLS from the first byte
_KEYLOG_LINE = re.compile(r"^[A-Z][A-Z0-9_]* [0-9a-fA-F]+ [0-9a-fA-F]+$")


def sniff(head: bytes) -> bool:
    return head[:4] in MAGIC


def keylog_beside(path: Path) -> Path | None:
    """The key log a capture comes with: `<stem>.keylog`, else the only `*.keylog` beside it."""
    same = path.with_suffix(".keylog")
    if same.is_file():
        return same
    others = [p for p in path.parent.glob("*.keylog") if p.is_file()]
    return others[0] if len(others) == 1 else None


@reader("pcap", "a packet capture (pcap or pcapng), read with tshark", order=90)
def parse(path: Path, data: bytes) -> Log:
    return parse_with_keys(path, data, keylog_beside(path))


def parse_with_keys(path: Path, data: bytes, keylog: Path | None) -> Log:
    """The capture as a Log, decrypting TLS with `keylog` (SSLKEYLOGFILE format) if given."""
    keys = _keys(keylog) if keylog is not None else ""
    file = str(path)
    with tempfile.TemporaryDirectory(prefix="ftps-harness-pcap-") as tmp:
        home = Path(tmp)
        pcap = home / "capture"
        pcap.write_bytes(data)
        keyfile = None
        if keys:
            keyfile = home / "keys.log"
            keyfile.write_text(keys)
        ports = set(CONTROL_PORTS)
        dump = _tshark.run(pcap, file, keyfile, ports, home)
        found = control.find(dump.frames, ports, IMPLICIT_PORTS)
        more = {c.server[1] for c in found.values()} - ports
        if more:  # a control connection on another port: decode it as TLS too
            ports |= more
            dump = _tshark.run(pcap, file, keyfile, ports, home)
            found = control.find(dump.frames, ports, IMPLICIT_PORTS)
    return Log(file, "pcap", "unknown", tuple(_events(dump, found, file, keylog is not None)))


def _events(dump: _tshark.Dump, found: dict[int, control.Control], file: str, keys: bool) -> list[Event]:
    frames = list(dump.frames)
    events: list[Event] = []
    targets: list[control.Target] = []
    for c in found.values():
        lines, named = control.conversation(c, frames, file, keys)
        events += lines
        targets += named
    dialled, kinds = _pcap_dials.dials(frames, found, targets, file)
    events += _pcap_tls.notes(frames, kinds, file) + dialled
    events.sort(key=_order)
    if not found:
        ports = ", ".join(map(str, sorted(CONTROL_PORTS)))
        text = f"no FTP control connection in the capture (no connection to port {ports}, no greeting, USER or AUTH)"
        events.insert(0, Event("note", text, Where(file, packet=frames[0].number if frames else 0)))
    if dump.cut:
        last = frames[-1] if frames else None
        where = Where(file, packet=last.number if last else 0)
        events.append(Event("note", f"the capture ends early: {dump.cut}", where, t=last.t if last else None))
    return events


def _order(e: Event) -> tuple[int, int]:
    """Packet order; within a packet: a dial, a handshake note, the lines, an alert, a reset."""
    if e.dial is not None:
        rank = 4 if e.dial.result == "reset" else 0
    elif e.tls is not None:
        rank = 3 if e.tls.startswith("alert") else 1
    else:
        rank = 2
    return (e.where.packet, rank)


def _keys(path: Path) -> str:
    """The key log's text, checked line by line (comments and blank lines allowed)."""
    text = read_text(path, "TLS key log", limit=MAX_KEYLOG)
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s and not s.startswith("#") and not _KEYLOG_LINE.match(s):
            raise InputError(
                f"{path}:{n}: not a TLS key log line (SSLKEYLOGFILE format: LABEL <client random> <secret>): {s[:60]!r}"
            )
    return text
