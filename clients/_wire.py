"""Bounded reading of control replies and data: a server nobody controls cannot make the
probe wait for ever or grow without limit.

Every reply is bounded in line length, total size, number of lines and total time (a
server trickling one byte at a time still ends the step). Bytes that are not UTF-8 are
decoded with replacement characters, and the reader remembers that it happened.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Bounds:
    line: int = 8192  # bytes in one control line
    reply: int = 65536  # bytes in one (multi-line) reply
    lines: int = 500  # lines in one multi-line reply
    step_s: float = 15.0  # total time for one reply, or one data transfer
    download: int = 64 << 20  # bytes read from one data connection


class Hostile(Exception):
    """The peer broke a bound; `kind` names which (oversize, trickle)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class BoundedReader:
    """Control lines from one socket, within Bounds."""

    def __init__(self, sock: socket.socket, bounds: Bounds):
        self.sock, self.bounds = sock, bounds
        self.buf = bytearray()
        self.deadline = time.monotonic() + bounds.step_s
        self.lines = self.size = 0
        self.undecodable: list[str] = []  # lines that were not UTF-8 (as decoded with U+FFFD)

    def start_reply(self) -> None:
        self.deadline = time.monotonic() + self.bounds.step_s
        self.lines = self.size = 0

    def _fill(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise Hostile(
                "trickle",
                f"the reply took longer than {self.bounds.step_s:.0f}s "
                f"({self.size + len(self.buf)} bytes received, still incomplete)",
            )
        timeout = self.sock.gettimeout()
        self.sock.settimeout(left if timeout is None else min(left, timeout))
        try:
            chunk = self.sock.recv(4096)
        except TimeoutError:
            if time.monotonic() >= self.deadline - 0.05:
                raise Hostile(
                    "trickle",
                    f"the reply took longer than {self.bounds.step_s:.0f}s "
                    f"({self.size + len(self.buf)} bytes received, still incomplete)",
                ) from None
            raise
        finally:
            self.sock.settimeout(timeout)
        if not chunk:
            raise EOFError("the server closed the control connection")
        self.buf += chunk

    def line(self) -> str:
        """One line without its CRLF; Hostile when a bound is broken."""
        b = self.bounds
        while (i := self.buf.find(b"\n")) < 0:
            if len(self.buf) > b.line:
                raise Hostile("oversize", f"a reply line longer than {b.line} bytes")
            self._fill()
        raw = bytes(self.buf[: i + 1])
        del self.buf[: i + 1]
        if len(raw) > b.line:
            raise Hostile("oversize", f"a reply line longer than {b.line} bytes")
        self.lines += 1
        self.size += len(raw)
        if self.lines > b.lines:
            raise Hostile("oversize", f"a multi-line reply of more than {b.lines} lines")
        if self.size > b.reply:
            raise Hostile("oversize", f"a reply larger than {b.reply} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            self.undecodable.append(text.rstrip("\r\n"))
        return text.rstrip("\r\n")


class RaggedEOF(Exception):
    """A TLS data connection ended with a TCP FIN and no close_notify; `data` is what came."""

    def __init__(self, data: bytes) -> None:
        super().__init__("the data connection ended without a TLS close_notify")
        self.data = data


def read_data(sock: socket.socket, bounds: Bounds) -> bytes:
    """Everything the data connection carries, within the download and time bounds.
    RaggedEOF when a TLS peer closed without close_notify."""
    deadline = time.monotonic() + bounds.step_s
    buf = bytearray()
    timeout = sock.gettimeout()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Hostile("trickle", f"the transfer took longer than {bounds.step_s:.0f}s ({len(buf)} bytes received)")
        sock.settimeout(left if timeout is None else min(left, timeout))
        try:
            chunk = sock.recv(65536)
        except ssl.SSLEOFError:
            raise RaggedEOF(bytes(buf)) from None
        except TimeoutError:
            if time.monotonic() >= deadline - 0.05:
                raise Hostile(
                    "trickle", f"the transfer took longer than {bounds.step_s:.0f}s ({len(buf)} bytes received)"
                ) from None
            raise
        if not chunk:
            return bytes(buf)
        buf += chunk
        if len(buf) > bounds.download:
            raise Hostile("oversize", f"the server sent more than {bounds.download} bytes on one data connection")
