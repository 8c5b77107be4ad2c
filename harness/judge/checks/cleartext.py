"""The server wrote in clear where a TLS record belonged: the TLS layer failed on it, and the
client only says "wrong version number". The ftplib agent keeps those bytes (Connection
.cleartext); this check quotes them and reads them: FTP replies or not, the server's own
words for a dying session process (ServerAdapter.says["fatal"]), and a setting of the
server's that the reason names. It never consults a table of expected results.
"""

from __future__ import annotations

import re
from dataclasses import replace

import servers
from harness.core import family
from harness.judge.checks import check
from harness.judge.evidence import Cleartext, Evidence, PlacedFailure, server_pattern
from harness.judge.verdict import Verdict
from harness.observe.observation import UNSEEN, Connection, Observation

_REPLY = re.compile(r"^\d{3}[ -]")
SHOWN = 200  # characters of the escaped bytes a diagnosis quotes


def printable(raw: str, limit: int = SHOWN) -> str:
    """Bytes (one character per byte) as printable text: \\r, \\n, \\t and \\xNN escaped, a byte
    the TLS layer consumed unseen as ?."""
    out = []
    for ch in raw:
        o = ord(ch)
        if ch == UNSEEN:
            out.append("?")
        elif ch in "\r\n\t":
            out.append({"\r": "\\r", "\n": "\\n", "\t": "\\t"}[ch])
        elif ch == "\\":
            out.append("\\\\")
        elif 32 <= o < 127:
            out.append(ch)
        else:
            out.append(f"\\x{o:02x}")
    text = "".join(out)
    return text if len(text) <= limit else text[:limit] + "…"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def reply_lines(raw: str) -> tuple[str, ...]:
    """The FTP reply lines among the bytes (a 3-digit code, then a space or a dash)."""
    return tuple(line for line in re.split(r"\r?\n", raw) if _REPLY.match(line))


def _found(obs: Observation) -> tuple[Connection, Cleartext] | None:
    """The first connection with clear text, and what it holds."""
    assert obs.client is not None
    for c in obs.client.connections:
        if not c.cleartext:
            continue
        if c.role == "control":
            sent = [t.line for t in obs.client.transcript if t.dir == "sent" and t.session == c.session]
            after = sent[-1] if sent else None
        else:
            after = c.cmd
        return c, Cleartext(c.role, after, printable(c.cleartext), reply_lines(c.cleartext))
    return None


def _setting(obs: Observation, reason: str) -> tuple[str, str] | None:
    """The server setting (knob, its name) the reason names, if the adapter declares it."""
    for knob, setting in servers.get(obs.case.server.impl).settings.items():
        name = re.split(r"[=\s]", setting, maxsplit=1)[0]
        if name and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", reason):  # -P as well as pasv_address
            return knob, name
    return None


def _fatal(obs: Observation, ct: Cleartext, label: str) -> str | None:
    """What a line in the server's own wording for a dying session says, and what to do."""
    pattern = server_pattern(obs, "fatal")
    m = next((m for line in ct.lines if (m := pattern.search(line))), None)
    if m is None:
        return None
    reason = m.groupdict().get("reason") or m.group(0)
    logged = any(reason in line for line in obs.server_log)
    text = (
        f"'{m.group(0)}' is how {label} words a fatal error (its adapter declares the wording); "
        "here it went to the socket outside TLS, where no TLS client can read it"
        + (
            f", and {label}'s log does not have it: only the connection shows it"
            if obs.server_log and not logged
            else ""
        )
        + "."
    )
    found = _setting(obs, reason)
    if found is None:
        return text + f" Look in {label}'s configuration for what '{reason}' names."
    knob, name = found
    if knob != "masquerade" or not obs.case.server.masquerade:
        return text + f" The reason names {name}, a setting of {label}'s: check its value for this listener."
    topo = obs.topology
    value = topo.masquerade_address or topo.server_public
    text += (
        f" The reason names {name}, the setting that makes {label} advertise another address "
        f"(masquerade), set here to the server's public address {value}."
    )
    asked = (ct.after or "").split(" ", 1)[0].upper()
    if asked == "PASV" and family.of(value).version == 6:
        text += (
            f" {_cap(family.cannot_carry('227', value))}: "
            f"asked for PASV, {label} wrote these words instead of a 227 and closed the connection. "
            f"Not tried by a re-run of this case: EPSV (its 229 reply carries only a port), or {name} "
            f"set to an IPv4 address, or unset, on a {label} that also listens on IPv6."
        )
    return text


def _meaning(obs: Observation, ct: Cleartext, label: str) -> str:
    """What the clear text means, from the bytes and the case."""
    fatal = _fatal(obs, ct, label) if ct.lines else None
    if fatal:
        return fatal
    if ct.lines and ct.connection == "control":
        secured = obs.client is not None and any(c.role == "control" and c.tls == "ok" for c in obs.client.connections)
        return (
            f"These are FTP replies, written in clear on a control connection both ends had "
            f"secured: {label} (or a middlebox answering for it) no longer treats the control "
            "connection as TLS."
            if secured
            else "These are FTP replies, written in clear where the TLS handshake was expected: "
            "the port answered the ClientHello in clear."
        ) + " Look in the server's log at this command, and at any proxy or FTP helper on the path."
    if ct.lines:
        return (
            f"These are FTP replies on the data connection: {label} answered the TLS handshake "
            "in clear. Something other than a protected data channel listened on that port; "
            "check the address and port the client connected to, and any proxy on the path."
        )
    return (
        f"These bytes are not an FTP reply: something other than {label}'s TLS layer wrote them "
        f"on the {ct.connection} connection (another service on the port, or a middlebox). "
        "Check what listens at the address the client connected to."
    )


@check("cleartext-in-tls", 285)
def cleartext_in_tls(obs: Observation, ev: Evidence) -> Verdict | None:
    """TLS failed on bytes the server wrote in clear: they are quoted, and read."""
    f: PlacedFailure | None = ev.failure
    if f is None or obs.client is None:
        return None
    found = _found(obs)
    if found is None:
        return None
    conn, ct = found
    adapter = servers.get(obs.case.server.impl)
    label = adapter.label or adapter.name
    if ct.connection == "control":
        where = f"On the TLS control connection, after '{ct.after}', " if ct.after else "On the TLS control connection "
    else:
        where = f"On the data connection for {ct.after}, " if ct.after else "On a data connection "
    unseen = (
        " (each ? a byte the TLS layer read before the client could see it)" if UNSEEN in (conn.cleartext or "") else ""
    )
    text = (
        f"{where}the server wrote in clear where a TLS record belonged: '{ct.text}'{unseen}. "
        f"{obs.case.client.impl} read it as TLS and stopped at {f.step} ({f.error}); "
        "a TLS client shows only that, never these words. " + _meaning(obs, ct, label)
    )
    return Verdict("fail", f.stage, text, replace(ev, cleartext=ct))
