"""The probe document: what `python -m harness probe` saw of one server, and its findings.

Facts and verdicts only; the renderers draw it (harness/probe/render.py). Its JSON Schema is
schemas/probe.schema.json: regenerate with `python -m harness.probe.model`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.judge.findings import SEVERITIES, Finding  # noqa: F401 - SEVERITIES: the probe's --fail-on

SCHEMA = "probe"
VERSION = 1
SENDER_NOTE = (
    "Lines as this machine received them. What the server really sent is unknown "
    "here: a firewall or proxy in between may have rewritten them."
)


@dataclass(frozen=True)
class Line:
    dir: str  # sent | recv
    line: str
    t: float | None = None


@dataclass(frozen=True)
class DataConnection:
    cmd: str
    reply: str | None = None  # to PASV/EPSV/PORT/EPRT
    advertised: str | None = None  # the address in a 227 reply
    address_class: str | None = None  # same | private | neighbour | third-party | none
    target: str | None = None  # where this machine connected (passive) or listened (active)
    result: str | None = None  # ok, refused, timeout, ... (None: never tried)
    tls_version: str | None = None
    cipher: str | None = None
    session_reused: bool | None = None
    bytes: int | None = None
    final: str | None = None


@dataclass(frozen=True)
class ModeResult:
    mode: str  # pasv | epsv | port | eprt
    outcome: str  # pass | fail
    stage: str | None = None
    kind: str | None = None
    diagnosis: str = ""
    evidence: tuple[str, ...] = ()
    lines: tuple[Line, ...] = ()
    data: tuple[DataConnection, ...] = ()
    findings: tuple[str, ...] = ()  # names of the findings that apply to this mode
    undecodable: tuple[str, ...] = ()  # reply lines that were not UTF-8 (shown with U+FFFD)
    duration_s: float | None = None


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    not_after: str
    days_left: int
    key: str  # RSA, EC, Ed25519, ...
    key_bits: int | None
    names: tuple[str, ...]  # subject alternative names
    chain: str  # "trusted" or the verifier's reason
    chain_to: str  # the CA file given, or "the system store"
    name_match: bool


@dataclass(frozen=True)
class Features:
    feat_answered: bool
    feat: tuple[str, ...] = ()  # FEAT's lines, as received
    auth_tls: bool | None = None
    ccc: bool | None = None
    epsv: bool | None = None
    eprt: bool | None = None
    mlsd: bool | None = None
    session_reuse_required: bool | None = None  # None: not tested (no TLS, or no data channel)
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class TlsPosture:
    control: str | None = None  # version negotiated with this machine's defaults
    cipher: str | None = None
    accepted: tuple[str, ...] = ()  # versions the server accepted when offered alone
    refused: tuple[str, ...] = ()
    untested: tuple[str, ...] = ()  # versions this machine's TLS library cannot offer
    weak_cipher: str | None = None  # a weak suite the server agreed to, if any
    weak_note: str = ""


@dataclass(frozen=True)
class ProbeReport:
    target: str
    host: str
    port: int
    tls: str  # the TLS mode used: explicit | implicit | none
    started: str
    outcome: str  # pass | fail (a mode failed, or a finding at or above --fail-on)
    reached: bool  # False: the host refused or did not answer; see `unreached`
    unreached: str = ""
    fail_on: str = "high"
    banner: tuple[str, ...] = ()
    user: str = "anonymous"
    features: Features | None = None
    tls_posture: TlsPosture | None = None
    certificate: Certificate | None = None
    modes: tuple[ModeResult, ...] = ()
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()
    sender_note: str = SENDER_NOTE
    schema: str = SCHEMA
    version: int = VERSION
    duration_s: float = 0.0
    command: str = ""


def json_schema() -> dict[str, Any]:
    from pydantic import TypeAdapter

    s = TypeAdapter(ProbeReport).json_schema()
    s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    s["title"] = "ftps-harness probe document"
    return s


if __name__ == "__main__":
    out = Path(__file__).resolve().parents[2] / "schemas" / "probe.schema.json"
    out.write_text(json.dumps(json_schema(), indent=1) + "\n")
    print(out)
