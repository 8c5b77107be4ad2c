"""A long-running command in a lab host whose output is read incrementally, and the tail of a
growing file (complete lines only)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.build.backends.base import Lab


def read_lines(path: Path, offset: int) -> tuple[list[str], int]:
    """Complete lines appended to `path` since `offset`, and the new offset (a half-written
    last line is left for the next call)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    return data[:end].decode(errors="replace").splitlines(), offset + end


class Follow:
    """A long-running command in a host whose output lines are read incrementally."""

    def __init__(
        self,
        lab: Lab,
        host: str,
        path: Path,
        argv: list[str],
        stderr: int | IO[Any] = subprocess.DEVNULL,
        append: bool = False,
    ) -> None:
        self.lab, self.path = lab, path
        self.offset = path.stat().st_size if append and path.exists() else 0
        self._out = open(path, "a" if append else "w")
        self.proc = lab.spawn(host, argv, stdout=self._out, stderr=stderr)

    def take(self) -> list[str]:
        lines, self.offset = read_lines(self.path, self.offset)
        return [line.strip() for line in lines if line.strip()]

    def close(self) -> None:
        self.lab.stop(self.proc, grace=0.5)
        self._out.close()
