"""What the FileZilla and WinSCP readers share: a log file's text and lines, and the FTP control
lines these clients quote, read just far enough to tell which connection an error is about.

Neither client names the connection in every error (FileZilla's "Connection timed out after 20
seconds of inactivity" can be about either); the context does. After a passive reply (227/228/
229, or a PORT/EPRT the server accepted) the client sets up the data connection; after a transfer
command it waits on it, until the command's final reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.core import family
from harness.ticket.log import Connection, Dial, Result

MAX_LINE = 4096  # characters of a line the patterns see: a log line is far shorter; bounds their time
TRANSFER = frozenset({"LIST", "NLST", "MLSD", "RETR", "STOR", "STOU", "APPE"})

# A socket error as FileZilla names it (libfilezilla's socket_error_description: "ECONNREFUSED -
# Connection refused by server"; the name is never translated, the words after it are).
ERRNO = re.compile(r"\b(E[A-Z]{4,}) - ")
ERRNO_RESULT: dict[str, Result] = {
    "ECONNREFUSED": "refused",
    "ETIMEDOUT": "timeout",
    "ECONNRESET": "reset",
    "ENETRESET": "reset",
    "ECONNABORTED": "reset",  # the stack gave the connection up: an abortive close, as a reset is
    "EHOSTUNREACH": "unreachable",
    "ENETUNREACH": "unreachable",
    "EHOSTDOWN": "unreachable",
    "EPIPE": "closed",
}


def text_of(data: bytes) -> str:
    """A log's text: UTF-8 (either client's log file), or UTF-16 with its BOM (a pane copied
    into Windows Notepad and saved as "Unicode")."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8-sig", errors="replace")


def lines_of(text: str) -> list[str]:
    """The lines as an editor numbers them (CR LF or LF; not str.splitlines, which also splits
    at form feeds and Unicode separators)."""
    return [l.removesuffix("\r")[:MAX_LINE] for l in text.split("\n")]


def _port(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[0-9]{1,5}", text) and int(text) <= 65535 else None


def host_port(addr: str, default_port: int) -> tuple[str, int]:
    """ "203.0.113.10:21", "[2001:db8::1]:21" or a bare host."""
    if addr.startswith("["):
        host, _, rest = addr[1:].partition("]")
        return host, _port(rest[1:]) or default_port
    host, sep, port = addr.rpartition(":")
    if sep and _port(port) is not None and ":" not in host:
        return host, int(port)
    return addr, default_port


def mask(command: str) -> str:
    """A command as a ticket may show it: never a password (PASS ******)."""
    verb, sep, arg = command.partition(" ")
    if verb.upper() in ("PASS", "ACCT") and arg:
        return f"{verb}{sep}******"
    return command


@dataclass
class Context:
    """One control connection's state, as far as its quoted lines show it."""

    host: str = ""  # the control connection's peer, as the client named it
    port: int = 21
    # Where the data connection goes (active mode: where the server is asked to connect).
    data_host: str = ""
    data_port: int = 0
    offered: bool = False  # a passive reply (or an accepted PORT) since the last transfer ended
    transferring: bool = False  # ...and a transfer command after it, not answered finally yet
    _port: family.Announced | None = None  # a PORT/EPRT sent, not yet answered

    def dial(self, conn: Connection, result: Result | None) -> Dial:
        """A dial of the control or the data connection, to where this context says it goes."""
        if conn == "data":
            return Dial("data", self.data_host, self.data_port, result)
        return Dial("control", self.host, self.port, result)

    def connect(self, host: str, port: int) -> None:
        """A new control connection: nothing of the last one's data connection holds."""
        self.host, self.port = host, port
        self.closed()

    def sent(self, command: str) -> None:
        verb = command.split(" ", 1)[0].upper()
        self._port = family.announced(command) if verb in ("PORT", "EPRT") else None
        if verb in TRANSFER and self.offered:
            self.transferring = True

    def received(self, reply: str) -> None:
        code, final = reply[:3], reply[3:4] != "-"
        # 227 names an address, 229 only a port (the control connection's peer's); a PORT/EPRT
        # the server accepted, the address the server is to connect to.
        offer = family.announced(reply) if code in ("227", "229") else self._port if code == "200" else None
        if offer:
            self.data_host, self.data_port = offer.ip or self.host, offer.port
            self.offered, self.transferring = True, False
        elif self.transferring and final and code[:1] in ("2", "4", "5") and code.isdigit():
            self.closed()  # the transfer's final reply

    def closed(self) -> None:
        self.offered = self.transferring = False
        self._port = None


class Clock:
    """Seconds since a file's first time stamp (the files give local wall-clock times, no zone)."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.day = 0.0

    def __call__(self, seconds: float) -> float:
        if self.first is None:
            self.first = seconds
        elif seconds + self.day < self.first - 43200:  # a clock without a date passed midnight
            self.day += 86400
        return round(seconds + self.day - self.first, 3)
