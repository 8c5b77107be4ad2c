"""Files the operator names: inputs read safely (regular files only, bounded, UTF-8) and
output paths proven writable before a run starts. Every problem is an InputError (exit 2)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

MAX_INPUT = 1 << 20  # 1 MiB: far more than any scenario, plan or ruleset needs


class InputError(Exception):
    """Bad input from the operator; str() is the whole message."""


def read_text(path: Path, what: str = "file", limit: int = MAX_INPUT) -> str:
    """The file's text. Refuses devices, FIFOs and directories without blocking, files over
    `limit` bytes, and bytes that are not UTF-8 (naming the offset)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as e:
        raise InputError(f"{path}: cannot read the {what}: {e.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(st.st_mode)
                else "a FIFO"
                if stat.S_ISFIFO(st.st_mode)
                else "a device"
                if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "not a regular file"
            )
            raise InputError(f"{path}: the {what} must be a regular file; this is {kind}")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputError(f"{path}: the {what} is larger than {limit // 1024} KiB; is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(
            f"{path}: the {what} is not UTF-8 text: byte 0x{data[e.start]:02x} at byte offset {e.start}"
        ) from None


def writable_file(path: Path, flag: str) -> None:
    """`path` can be written as a file (its folder is made if needed); nothing is left behind."""
    if path.exists() and not path.is_file():
        raise InputError(f"{flag} {path}: exists and is not a regular file")
    writable_dir(path.parent, flag, for_file=path)
    if path.exists():
        if not os.access(path, os.W_OK):
            raise InputError(f"{flag} {path}: not writable")
        return


def writable_dir(path: Path, flag: str, for_file: Path | None = None) -> None:
    """`path` is (or can be made) a folder we can create files in."""
    shown = for_file or path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"{flag} {shown}: {path} exists and is not a folder") from None
    except OSError as e:
        raise InputError(f"{flag} {shown}: cannot make the folder {path}: {e.strerror}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=path, prefix=".ftps-harness-probe-"):
            pass
    except OSError as e:
        raise InputError(f"{flag} {shown}: cannot write in {path}: {e.strerror}") from None
