"""Shared parts of the command-line client adapters (curl, lftp).

They run the real client inside the client host, keep its raw output as evidence, and turn
its verbose trace into the same report the ftplib probe gives: the control transcript, one
record per data connection, and a result with the failing step and stage.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from harness.family import announced


def payload(workdir: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = workdir / f"up-{time.monotonic_ns()}.bin"
    path.write_bytes(data)
    return path, data


def sha_ok(path: Path, data: bytes) -> bool:
    return path.exists() and hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()


def run(lab, host: str, argv: list[str], timeout: float, env: dict[str, str] | None = None
        ) -> tuple[int, str]:
    """Run a client in `host`; (exit code, stdout+stderr). A hang is exit code -1."""
    full = ["env", *[f"{k}={v}" for k, v in (env or {}).items()], *argv]
    try:
        r = lab.run(host, full, timeout=timeout)
        return r.returncode, (r.stdout or "") + (r.stderr or "")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return -1, out.decode(errors="replace") if isinstance(out, bytes) else out


def data_records(transcript: list[dict[str, Any]], control_peer: str) -> list[dict[str, Any]]:
    """One record per PASV/EPSV/PORT/EPRT exchange, as the probe writes them."""
    recs: list[dict[str, Any]] = []
    for t in transcript:
        line, d = t.get("line", ""), t["dir"]
        if d == "sent" and line[:4].upper() in ("PASV", "EPSV", "PORT", "EPRT"):
            recs.append({"cmd": line[:4].upper(), "mode": line[:4].lower(), "sent": line,
                         "control_peer": control_peer})
        elif d == "recv" and recs and "reply" not in recs[-1]:
            recs[-1]["reply"] = line
            ep = announced(line) if line[:3] in ("227", "229") else None
            if ep:
                recs[-1].update(advertised_ip=ep.ip, advertised_port=ep.port)
        elif d == "data" and recs:
            recs[-1].update(t["info"])
    return recs


def last_reply(transcript: list[dict[str, Any]], codes: str = "45") -> str | None:
    """The last reply the client received, if it is an error reply."""
    for t in reversed(transcript):
        if t["dir"] == "recv":
            return t["line"] if t["line"][:1] in codes else None
    return None


def kind_of(message: str) -> str:
    m = message.lower()
    if "refused" in m:
        return "refused"
    if "timed out" in m or "timeout" in m:
        return "timeout"
    if "no route" in m or "unreachable" in m:
        return "unreachable"
    if "certificate" in m or "verify" in m:
        return "tls-verify"
    if "ssl" in m or "tls" in m:
        return "tls-error"
    if "reset" in m:
        return "reset"
    return "error"


def result(ok: bool, step: str = "", stage: str = "", kind: str = "", error: str = "",
           reply: str | None = None) -> dict[str, Any]:
    if ok:
        return {"ok": True}
    return {"ok": False, "step": step, "stage": stage, "kind": kind, "error": error, "reply": reply}
