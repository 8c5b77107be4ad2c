"""What a ticket's file says, as events in the order they happened (pure data).

Every reader (FileZilla, WinSCP, curl -v, lftp debug, a pcap through tshark) turns its file
into a Log: the control lines the client sent and received, and the client's own notes about
connections, each pointing back to the line or packet it came from. Facts are drawn from Logs
(facts.py); nothing here interprets FTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Kind = Literal["sent", "received", "note", "error"]
# What a note says about a connection, in the readers' common words (facts.py reads these):
Connection = Literal["control", "data"]
Result = Literal["ok", "timeout", "refused", "reset", "unreachable", "tls-alert", "closed"]


@dataclass(frozen=True)
class Where:
    """The file and the line (1-based) or packet (frame number) an event came from."""

    file: str
    line: int = 0
    packet: int = 0

    def __str__(self) -> str:
        name = Path(self.file).name
        return f"{name}:{self.line}" if self.line else f"{name} packet {self.packet}"


@dataclass(frozen=True)
class Dial:
    """A connection the client opened, or tried to (a note)."""

    conn: Connection
    host: str
    port: int
    result: Result | None = None  # None: the file does not say


@dataclass(frozen=True)
class Event:
    kind: Kind
    text: str  # a control line as sent or received (no CR LF), or the note's or error's words
    where: Where
    t: float | None = None  # seconds, when the file has times
    dial: Dial | None = None  # a note about a connection: where to, and how it went
    # The client replaced the address of a PASV reply with the control connection's address
    # (FileZilla's "unroutable address", curl's "Skip ... for data connection").
    replaced_pasv: bool = False
    tls: str | None = None  # a TLS note: "handshake", "resumed", "not-resumed", "alert: ..."


@dataclass(frozen=True)
class Log:
    """One file of a ticket, as events."""

    file: str
    format: str  # the reader's name: filezilla, winscp, curl, lftp, pcap
    client: str  # the client software that wrote it (a pcap: "unknown")
    events: tuple[Event, ...] = ()
    client_version: str = ""
    settings: dict[str, str] = field(default_factory=dict)  # what the log says of the client's own settings
