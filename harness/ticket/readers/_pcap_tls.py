"""TLS notes from a capture's handshakes and alerts, on control and data connections.

- a ClientHello: tls="handshake", or "resume-offered" when it offers to resume a session: a
  pre_shared_key extension (41, TLS 1.3), a session_ticket extension (35) with a ticket in it,
  or, from a client that does not offer TLS 1.3, a session id (a TLS 1.3 ClientHello always
  carries a random one for middleboxes, so there it says nothing);
- a ServerHello: tls="version TLSv1.3" (supported_versions, else its version field), and
  after an offer "resumed" (a pre_shared_key extension; in TLS 1.2 the offered session id
  echoed) or "not-resumed"; a HelloRetryRequest (a ServerHello with RFC 8446's fixed random)
  is a plain note, and so is the ClientHello that answers it;
- an alert: an error, tls="alert: <RFC 8446 name>"; close_notify is a note (an orderly end),
  and so is an alert whose description is encrypted.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.ticket.log import Connection, Event, Kind, Where
from harness.ticket.readers._pcap_control import endpoint
from harness.ticket.readers._tshark import Frame

CLIENT_HELLO, SERVER_HELLO = 1, 2
SESSION_TICKET, PRE_SHARED_KEY = 35, 41
TLS13 = 0x0304
_HRR = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"  # RFC 8446 4.1.3
VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", TLS13: "TLSv1.3"}
ALERTS = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}


@dataclass
class _Stream:
    offered: bool = False
    session_id: str = ""
    retry: bool = False  # a HelloRetryRequest came


def _offer(f: Frame) -> str:
    """What in a ClientHello offers to resume a session ("" for nothing)."""
    if PRE_SHARED_KEY in f.ext_types:
        return "a pre_shared_key"
    if any(t == SESSION_TICKET and n > 0 for t, n in zip(f.ext_types, f.ext_lens)):
        return "a session ticket"
    if f.session_ids and TLS13 not in f.supported_versions:
        return "a session id"
    return ""


def _version(f: Frame) -> int:
    return max(f.supported_versions) if f.supported_versions else (f.versions[-1] if f.versions else 0)


def notes(frames: list[Frame], kinds: dict[int, Connection], file: str) -> list[Event]:
    events: list[Event] = []
    streams: dict[int, _Stream] = {}
    for f in frames:
        if f.stream is None or f.stream not in kinds or not f.tls or f.icmp is not None:
            continue
        s = streams.setdefault(f.stream, _Stream())
        ends = f"{endpoint(f.src, f.sport)} -> {endpoint(f.dst, f.dport)} ({kinds[f.stream]} connection)"
        said = _hello(f, s, ends) + _alerts(f, ends)
        events += [Event(kind, text, Where(file, packet=f.number), t=f.t, tls=tls) for kind, text, tls in said]
    return events


Said = list[tuple[Kind, str, str | None]]  # (kind, text, tls)


def _hello(f: Frame, s: _Stream, ends: str) -> Said:
    out: Said = []
    if CLIENT_HELLO in f.handshakes:
        offer = _offer(f)
        s.offered, s.session_id = bool(offer), f.session_ids[0] if f.session_ids else ""
        if s.retry:
            out.append(("note", f"TLS ClientHello {ends}, again after the HelloRetryRequest", None))
        elif offer:
            out.append(("note", f"TLS ClientHello {ends}: offers to resume a session ({offer})", "resume-offered"))
        else:
            out.append(("note", f"TLS ClientHello {ends}: a new session (no resumption offered)", "handshake"))
    if SERVER_HELLO in f.handshakes:
        if _HRR in f.randoms:
            s.retry = True
            return [*out, ("note", f"TLS HelloRetryRequest {ends}: the server asks for another key share", None)]
        v = _version(f)
        name = VERSIONS.get(v, f"0x{v:04x}")
        out.append(("note", f"TLS ServerHello {ends}: {name}", f"version {name}"))
        if s.offered:
            resumed = PRE_SHARED_KEY in f.ext_types if v == TLS13 else s.session_id in f.session_ids
            did = "resumes the offered session" if resumed else "does not resume the offered session"
            out.append(("note", f"TLS ServerHello {ends}: {did}", "resumed" if resumed else "not-resumed"))
    return out


def _alerts(f: Frame, ends: str) -> Said:
    out: Said = []
    for level, desc in f.alerts:
        name = ALERTS.get(desc, f"alert {desc}")
        grave = "fatal" if level == 2 else "warning"
        out.append(("note" if desc == 0 else "error", f"TLS alert {name} ({grave}) {ends}", f"alert: {name}"))
    if 21 in f.content_types and not f.alerts:
        out.append(("note", f"TLS alert {ends}, encrypted (its description needs the key log)", None))
    return out
