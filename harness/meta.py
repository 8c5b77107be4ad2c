"""What a run was made with: harness version and commit, kernel and tool versions, the
command line. Read once per run; every probe is bounded in time and never raises."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import clients
import servers
from harness import __version__
from harness.core.repo import REPO

if TYPE_CHECKING:
    from harness.judge.verdict import Result


def _run(*cmd: str, cwd: Path | None = None) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=5, cwd=cwd, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return (p.stdout or p.stderr).strip() if p.returncode == 0 else ""


def commit() -> str:
    """The git commit of the checkout the harness runs from ("" when not a checkout);
    "+dirty" when tracked files differ from it."""
    if not (REPO / ".git").exists():
        return ""
    sha = _run("git", "rev-parse", "--short=12", "HEAD", cwd=REPO)
    if sha and _run("git", "status", "--porcelain", "--untracked-files=no", cwd=REPO):
        sha += "+dirty"
    return sha


def version_line() -> str:
    c = commit()
    return f"ftps-harness {__version__}" + (f" (commit {c})" if c else "")


def _first_line(text: str) -> str:
    return text.splitlines()[0].strip() if text else ""


def system() -> dict[str, str]:
    """Versions of what every run uses: kernel, nft, conntrack, HAProxy, Python."""
    return {
        "harness": __version__,
        "commit": commit(),
        "kernel": platform.release(),
        "nft": _first_line(_run("nft", "--version")),
        "conntrack": _first_line(_run("conntrack", "--version")),
        "haproxy": _first_line(_run("haproxy", "-v")),
        "python": platform.python_version(),
    }


def peers(server_names: Iterable[str], client_names: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each server and client actually used, with its version ("embedded" for pyftpdlib)."""
    return {
        "servers": {n: servers.get(n).version() or "embedded" for n in sorted(server_names)},
        "clients": {n: clients.get(n).version() or "?" for n in sorted(client_names)},
    }


def versions(results: list[Result]) -> dict[str, Any]:
    used_s = {r.case.server.impl for r in results if r.verdict.outcome != "skip"}
    used_c = {r.case.client.impl for r in results if r.verdict.outcome != "skip"}
    return {**system(), **peers(used_s, used_c)}
