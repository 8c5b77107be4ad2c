"""Bounded reading of control replies and data: a server nobody controls cannot make the
probe wait for ever or grow without limit.

Every reply is bounded in line length, total size, number of lines and total time (a
server trickling one byte at a time still ends the step). Bytes that are not UTF-8 are
decoded with replacement characters, and the reader remembers that it happened.

On a TLS socket the reader also peeks (MSG_PEEK) at the raw stream before each read the TLS
layer makes of it, so that when TLS fails on bytes that are not a TLS record (OpenSSL's
"wrong version number"), the agent can say what the peer wrote in clear (`ClearTap`).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from dataclasses import dataclass

from harness.observe.observation import UNSEEN


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


CLEAR_LIMIT = 256  # bytes of a peer's clear text kept where a TLS record belonged
_RECORD_TYPES = range(20, 25)  # TLS content types: change_cipher_spec, alert, handshake, application_data, heartbeat


def not_a_record(head: bytes) -> int | None:
    """Where `head`, raw bytes of a TLS stream that start at a record boundary, stops being
    TLS records: the offset of the first header that is not one (content type 20-24, then
    version 3.x), or None when every header in it is a record's (or it ends inside one)."""
    pos = 0
    while pos < len(head):
        if head[pos] not in _RECORD_TYPES or (pos + 1 < len(head) and head[pos + 1] != 3):
            return pos
        if pos + 5 > len(head):
            return None
        pos += 5 + int.from_bytes(head[pos + 3 : pos + 5], "big")
    return None


HEADER = 5  # bytes of a TLS record header: what the TLS layer reads of a record before it judges it
# OpenSSL's reasons for a record header that is not TLS: what clear text where a record belongs gives
RECORD_ERRORS = frozenset(
    {"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST"}
)


class ClearTap:
    """The raw bytes a TLS socket's stream held when the TLS layer last went to read it.

    `peek` looks at the stream (MSG_PEEK: nothing is consumed) at a record boundary, before
    the TLS layer reads it. When TLS then fails on bytes that are not a record, OpenSSL has
    consumed one record header (5 bytes) of them; `cleartext` joins those, as peeked, with
    what the stream still holds, read after the failure (the TLS connection is dead by then):
    the first CLEAR_LIMIT bytes the peer wrote in clear where a TLS record belonged. When the
    TLS layer read them before any peek (a peer that answered a ClientHello within the same
    call), their first 5 bytes are UNSEEN."""

    def __init__(self) -> None:
        self.head = b""

    def peek(self, sock: socket.socket) -> None:
        """Peek at the stream, waiting as the socket's timeout says (as the read would)."""
        self.head = socket.socket.recv(sock, CLEAR_LIMIT, socket.MSG_PEEK)

    def cleartext(self, sock: socket.socket, error: ssl.SSLError, wait: float = 0.3) -> str | None:
        """After TLS failed on `sock` with `error`: the clear bytes, one character per byte
        (latin-1), if the stream held any."""
        start = not_a_record(self.head)
        if start is None:  # the TLS layer read past what was peeked: its 5 bytes went unseen
            if error.reason not in RECORD_ERRORS:
                return None
            rest = _rest(sock, wait)
            if not rest or not_a_record(rest) != 0:  # nothing more, or TLS records: not clear text
                return None
            return (UNSEEN * HEADER + rest.decode("latin-1"))[:CLEAR_LIMIT]
        seen = self.head[start:]
        rest = _rest(sock, wait)
        tail = seen[HEADER:]  # what the TLS layer left in the stream, as peeked
        if len(seen) >= HEADER and (rest.startswith(tail) or tail.startswith(rest)):
            seen = max(seen, seen[:HEADER] + rest, key=len)
        return seen[:CLEAR_LIMIT].decode("latin-1")


def handshake(tls: ssl.SSLSocket, tap: ClearTap) -> None:
    """The handshake of `tls` (wrapped with do_handshake_on_connect=False), peeking at the
    peer's first bytes on the way: the ClientHello goes out, and once the peer has answered,
    `tap` sees what it wrote before the TLS layer reads it. Timeouts are the socket's, as in
    a plain handshake."""
    timeout = tls.gettimeout()
    tls.settimeout(0)
    try:
        with contextlib.suppress(BlockingIOError):
            tap.peek(tls)  # what the peer wrote before the ClientHello, if anything
        tls.do_handshake()  # sends the ClientHello, then would wait for the answer
        return
    except ssl.SSLWantReadError:
        t0 = time.monotonic()
        if select.select([tls], [], [], timeout)[0]:
            tap.peek(tls)  # the answer is there: peeking does not wait
            if timeout is not None:  # the rest of the handshake has what the wait left
                timeout = max(1e-3, timeout - (time.monotonic() - t0))
        else:
            timeout = 1e-3  # no answer in time: the handshake times out as it would have
    except ssl.SSLWantWriteError:
        pass
    finally:
        tls.settimeout(timeout)
    tls.do_handshake()


def _rest(sock: socket.socket, wait: float) -> bytes:
    """What the raw stream under a failed TLS socket still holds, until the peer closes,
    CLEAR_LIMIT bytes or `wait` seconds."""
    out = bytearray()
    deadline, timeout = time.monotonic() + wait, sock.gettimeout()
    try:
        while len(out) < CLEAR_LIMIT and (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            chunk = socket.socket.recv(sock, CLEAR_LIMIT - len(out))
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.settimeout(timeout)  # as it was: the caller may go on reading
    return bytes(out)


class BoundedReader:
    """Control lines from one socket, within Bounds."""

    def __init__(self, sock: socket.socket, bounds: Bounds):
        self.sock, self.bounds = sock, bounds
        self.tap = ClearTap() if isinstance(sock, ssl.SSLSocket) else None
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
            if self.tap is not None and isinstance(self.sock, ssl.SSLSocket) and not self.sock.pending():
                self.tap.peek(self.sock)  # the TLS layer reads the stream next
                left = max(1e-3, self.deadline - time.monotonic())  # the peek spent part of it
                self.sock.settimeout(left if timeout is None else min(left, timeout))
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
