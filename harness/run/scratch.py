"""A run's scratch folder (/tmp/ftps-harness-<pid>-*: server logs, homes, TLS key logs),
and the removal of those whose run is gone (`clean`)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

PREFIX = "ftps-harness-"
_OWNED = re.compile(rf"^{PREFIX}(\d+)-")


def make() -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    path.chmod(0o755)  # servers that drop privileges (to nobody) must reach their homes
    return path


def _alive(pid: int) -> bool:
    try:
        return not Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def clean(force: bool = False, root: Path | None = None) -> list[Path]:
    """Remove the scratch folders of runs whose process is gone (every one with force)."""
    removed = []
    for path in sorted((root or Path(tempfile.gettempdir())).glob(f"{PREFIX}*")):
        m = _OWNED.match(path.name)
        if not path.is_dir() or path.is_symlink() or m is None:
            continue  # not one of ours, or from a version that did not name its owner
        if (force and int(m.group(1)) != os.getpid()) or not _alive(int(m.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
