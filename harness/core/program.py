"""How this process was started, so that a command line the harness prints works when pasted."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

PROGRAM_ENV = "FTPS_HARNESS_PROGRAM"  # kept across the re-run in a user namespace


def program() -> list[str]:
    """The words that start the harness the way this process was started, so that a command
    line it prints works when pasted: `ftps-harness` when that is what PATH finds,
    `.venv/bin/ftps-harness` as typed, or `/…/python -m harness`."""
    if os.environ.get(PROGRAM_ENV):
        return shlex.split(os.environ[PROGRAM_ENV])
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name == "ftps-harness":
        found = shutil.which("ftps-harness")
        return ["ftps-harness" if found and Path(found).resolve() == Path(argv0).resolve() else argv0]
    return [sys.executable, "-m", "harness"]


def command_line(argv: list[str] | None = None) -> str:
    """How this run was started, as a user would type it again."""
    argv = sys.argv[1:] if argv is None else argv
    return shlex.join([*program(), *argv])
