"""Readers of the files a ticket carries, one module each (a new format is one new file).

A reader says whether a file is its format (`sniff`, on the first few KiB) and turns it into
a Log. `read(path)` tries every reader in order; a file no reader takes is UnknownFormat
(exit 2, naming the formats tried).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.core.inputs import InputError
from harness.core.registry import Registry
from harness.ticket.log import Log

MAX_BYTES = 64 * 1024 * 1024  # a bigger file is refused, not read


class UnknownFormat(InputError):
    """No reader takes this file."""


@dataclass(frozen=True)
class Reader:
    name: str
    what: str  # for messages: "a FileZilla log (message pane or log file)"
    sniff: Callable[[bytes], bool]  # the file's first 64 KiB
    parse: Callable[[Path, bytes], Log]
    order: int = 500


REGISTRY: Registry[Reader] = Registry("log reader", package=__name__)


def reader(
    name: str, what: str, order: int = 500
) -> Callable[[Callable[[Path, bytes], Log]], Callable[[Path, bytes], Log]]:
    """Register a parse function; the module's `sniff` is found by name beside it."""

    def add(parse: Callable[[Path, bytes], Log]) -> Callable[[Path, bytes], Log]:
        import sys

        sniff = sys.modules[parse.__module__].sniff
        REGISTRY.add(name, Reader(name, what, sniff, parse, order))
        return parse

    return add


def formats() -> list[Reader]:
    return sorted(REGISTRY, key=lambda r: r.order)


def read_bounded(path: Path) -> bytes:
    """The file's bytes, at most MAX_BYTES (InputError otherwise, or when it cannot be read)."""
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(f"{path}: cannot read it: {e.strerror}") from None
    if size > MAX_BYTES:
        raise InputError(f"{path}: {size // 2**20} MiB is more than a ticket's log can be ({MAX_BYTES // 2**20} MiB)")
    try:
        return path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read it: {e.strerror}") from None


def read(path: Path) -> Log:
    """The file as a Log; UnknownFormat (or InputError for an unreadable file) otherwise."""
    data = read_bounded(path)
    head = data[: 64 * 1024]
    for r in formats():
        if r.sniff(head):
            return r.parse(path, data)
    tried = "; ".join(r.what for r in formats())
    raise UnknownFormat(f"{path}: not a format the harness reads. Tried: {tried}")
