"""Shared parts of the command-line client adapters (curl, lftp).

They run the real client inside the client host, keep its raw output as evidence, and turn
its verbose trace into the same report the ftplib agent gives: the control transcript, one
Connection per control and data connection, and the failure in the client's own terms
(harness/judge/stages.py places it).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core.family import announced
from harness.observe.observation import Connection, ControlLine, Endpoint, Failure

if TYPE_CHECKING:
    from harness.build.backends.base import Lab

_FIELDS = {f.name for f in fields(Connection)}


def payload(workdir: Path, size: int) -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = workdir / f"up-{time.monotonic_ns()}.bin"
    path.write_bytes(data)
    return path, data


def sha_ok(path: Path, data: bytes) -> bool:
    return path.exists() and hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()


def run(lab: Lab, host: str, argv: list[str], timeout: float, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a client in `host`; (exit code, stdout+stderr). A hang is exit code -1."""
    full = ["env", *[f"{k}={v}" for k, v in (env or {}).items()], *argv]
    try:
        r = lab.run(host, full, timeout=timeout)
        return r.returncode, (r.stdout or "") + (r.stderr or "")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"") + (e.stderr or b"")
        return -1, out.decode(errors="replace") if isinstance(out, bytes) else out


def connections(transcript: list[dict[str, Any]], control_peer: str) -> list[Connection]:
    """One Connection per control connection and per PASV/EPSV/PORT/EPRT exchange, from the
    parsed trace (entries: sent, recv, control and data facts, each with its session)."""
    out: list[dict[str, Any]] = []
    data: dict[str, Any] | None = None
    for t in transcript:
        line, d, session = t.get("line", ""), t["dir"], t.get("session", 0)
        if d == "control":
            out.append({"role": "control", "session": session, **t["info"]})
        elif d == "sent" and line[:4].upper() in ("PASV", "EPSV", "PORT", "EPRT"):
            data = {
                "role": "data",
                "session": session,
                "cmd": line[:4].upper(),
                "mode": line[:4].lower(),
                "sent": line,
                "control_peer": control_peer,
            }
            out.append(data)
        elif d == "recv" and data is not None and "reply" in data and line[:1] == "1" and "preliminary" not in data:
            data["preliminary"] = line
        elif d == "recv" and data is not None and "preliminary" in data and "final" not in data:
            data["final"] = line
        elif d == "recv" and data is not None and "reply" not in data:
            data["reply"] = line
            ep = announced(line) if line[:3] in ("227", "229") else None
            if ep:
                data.update(advertised_ip=ep.ip, advertised_port=ep.port)
        elif d == "data" and data is not None:
            data.update(t["info"])
    return [connection(c) for c in out]


def connection(rec: dict[str, Any]) -> Connection:
    """A Connection from a parsed record ("connect" is its result, "target" is host:port)."""
    rec = dict(rec)
    if "connect" in rec:
        rec["result"] = rec.pop("connect")
    if isinstance(rec.get("target"), str):
        rec["target"] = Endpoint.parse(rec["target"])
    return Connection(**{k: v for k, v in rec.items() if k in _FIELDS})


def lines(transcript: list[dict[str, Any]]) -> tuple[ControlLine, ...]:
    return tuple(
        ControlLine(t["dir"], t["line"], t.get("t"), session=t.get("session", 0))
        for t in transcript
        if t["dir"] in ("sent", "recv")
    )


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


def integrity_failure(size: int) -> Failure:
    return Failure(
        "mismatch", f"downloaded file differs from the {size} bytes uploaded (SHA-256 mismatch)", step="compare"
    )
