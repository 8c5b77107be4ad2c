"""What the text readers share: lines with their numbers, and a connection error's kind."""

from __future__ import annotations

from collections.abc import Iterator

from harness.ticket.log import Result


def lines(data: bytes) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its end), decoded leniently (logs are pasted)."""
    text = data.decode("utf-8", errors="replace")
    for n, line in enumerate(text.splitlines(), 1):
        yield n, line.rstrip("\r")


def result_of(message: str) -> Result:
    """A connection error's words as a result: refused, timeout, unreachable, reset."""
    m = message.lower()
    if "refused" in m:
        return "refused"
    if "timed out" in m or "timeout" in m or "time-out" in m:
        return "timeout"
    if "no route" in m or "unreachable" in m:
        return "unreachable"
    if "reset" in m:
        return "reset"
    return "closed"
