"""WinSCP session logs (/log=FILE, or Preferences → Logging → Session log), FTP and FTPS.

One line a message: a mark, a space, the local time stamp to the millisecond, a space, the text;
CR LF; UTF-8. A message of several lines is several lines, each with its own mark and time:

    . 2026-12-03 10:15:42.123 Connecting to 203.0.113.10 ...
    < 2026-12-03 10:15:42.168 220 (vsFTPd 3.0.3)
    > 2026-12-03 10:15:42.168 AUTH TLS

Marks ("<>!.*", indexed by TLogLineType): "<" a line the server sent (llOutput), ">" one the client
sent (llInput), "!" standard error (SCP's, never FTP's), "." a message (status, warnings and the
FTP engine's errors alike), "*" an exception (the error the user was shown: its class, then one
line per message, e.g. "(ECommand) Error listing directory '/'." then the causes).

The log opens with the environment ("WinSCP Version 6.3.5 (Build 14991 2024-09-10) (OS ...)") and,
per session, its settings between two rules of dashes: "Host name: H (Port: 21)" ("Hostname:" from
6.5 on), "Transfer Protocol: FTP", "Ping type: ..., Timeout: 15 sec", "FTPS: Explicit TLS/SSL
[Client certificate: No]", "FTP: Passive: Yes [Force IP: Auto]; MLSD: ...", "Session reuse: Yes",
"TLS/SSL versions: TLSv1.2-TLSv1.3" (Force IP: Auto replaces an unroutable PASV address with the
server's, Yes always does, No never). Read into settings: host, port, protocol, encryption
(explicit/implicit/none), transfer mode (Passive/Active), force pasv ip (Auto/Yes/No), timeout
(seconds), tls session reuse, tls versions, proxy, session name.

The FTP engine (WinSCP's fork of FileZilla 2) writes "Connecting to HOST ..." for the control
connection (":PORT" only when not 21) and "Connecting to HOST:PORT ..." for each passive data
connection, "Connected with HOST. Waiting for welcome message..." (plain) or "..., negotiating TLS
connection..." (FTPS), "TLS connection established. Waiting for welcome message..." (control),
"TLS connection established" (data), "Server sent passive reply with unroutable address A, using
host address instead." (Force IP: Auto), "Using host address H instead of the one suggested by
the server: A" (Yes), "Timeout detected. (data connection)" / "(control connection)", "Transfer
channel can't be opened. Reason: <Windows' words for the socket error>", "Session ID reused".
The marks, time stamps and settings block are the same in every language (written as literals);
the engine's messages are string resources, which a WinSCP translation may replace, and Windows'
socket error texts are in Windows' language: only the English ones are recognised.

Read into the Log: ">" → sent (PASS ******), "<" → received, "." → note, or error for the engine's
errors, "!" and "*" → error. A line about a connection carries a Dial: "Connecting to" (control;
data after a passive reply, to the address WinSCP really used), "Connected with" (control, ok),
"TLS connection established" on a data connection (data, ok), the timeouts, the transfer channel
and Windows' socket errors (refused, timeout, reset, unreachable), an "SSL3 alert" (tls-alert).
An exception ("*") restates errors logged before it and carries no Dial. t: seconds since the
file's first time stamp.

Checked against WinSCP 6.3.5's source (winscp/winscp, tag 6.3.5): source/core/SessionInfo.cpp
(TSessionLog::DoAddToSelf, the settings block in DoAddStartupInfo), source/core/Common.cpp
(GetEnvironmentInfo, ExceptionLogString), source/core/Configuration.cpp (GetVersionStr),
source/core/FtpFileSystem.cpp (HandleStatus: which FTP messages get which mark),
source/filezilla/{FtpControlSocket,TransferSocket,AsyncSslSocketLayer}.cpp and
source/resource/TextsFileZilla.rc (the messages).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from harness.ticket.log import Connection, Event, Kind, Log, Result, Where
from harness.ticket.readers import reader
from harness.ticket.readers._gui import Clock, Context, host_port, lines_of, mask, text_of

LINE = re.compile(r"([.<>!*]) (\d{4}-\d\d-\d\d) (\d\d)[:.](\d\d)[:.](\d\d)\.(\d{3}) (.*)")
KINDS: dict[str, Kind] = {"<": "received", ">": "sent", "!": "error", ".": "note", "*": "error"}

VERSION = re.compile(r"WinSCP Version (\S+)")
SETTINGS = [
    (re.compile(r"Session name: (.*) \(.*\)"), ("session name",)),
    (re.compile(r"Host ?name: (.*) \((?:IPv[46], )?Port: (\d+)\)"), ("host", "port")),
    (re.compile(r"Transfer Protocol: (.*)"), ("protocol",)),
    (re.compile(r"Ping type: .*; Timeout: (\d+) sec"), ("timeout",)),
    (re.compile(r"Proxy: (.*)"), ("proxy",)),
    (re.compile(r"FTPS: (.*?) \[Client certificate: .*\]"), ("encryption",)),
    (re.compile(r"FTP: Passive: (Yes|No) \[Force IP: (\w+)\]; .*"), ("transfer mode", "force pasv ip")),
    (re.compile(r"Session reuse: (Yes|No)"), ("tls session reuse",)),
    (re.compile(r"TLS/SSL versions: (\S+)"), ("tls versions",)),
]

CONNECTING = re.compile(r"Connecting to (\S+) \.\.\.")
CONNECTED = re.compile(r"Connected with \S+(?:\. Waiting for welcome message|, negotiating TLS connection)\.\.\.")
REPLACED = re.compile(
    r"Server sent passive reply with unroutable address \S+, using host address instead\."
    r"|Using host address \S+ instead of the one suggested by the server: \S+"
)
TIMEOUT = re.compile(r"Timeout detected\. \((data|control) connection\)")
CHANNEL = "Transfer channel can't be opened. Reason: "
NETWORK = re.compile(
    r"Network error: (?:Connection to \".*\" (refused|timed out)|(Connection reset by peer)|No route to host)"
)
# Windows' own words for a socket error (FormatMessage, English), as the FTP engine logs them.
WINSOCK: list[tuple[str, Result]] = [
    ("actively refused it", "refused"),
    ("did not properly respond after a period of time", "timeout"),
    ("forcibly closed by the remote host", "reset"),
    ("aborted by the software in your host machine", "reset"),
    ("unreachable host", "unreachable"),
    ("unreachable network", "unreachable"),
]
TLS_NOTES = re.compile(
    r"TLS connection established(?:\. Waiting for welcome message\.\.\.)?|Using TLSv?[\d.]+, cipher .*"
    r"|Verifying certificate for .*"
)
# Errors the engine logs with a "." like any message.
ERRORS = re.compile(
    r"Timeout detected\..*|Transfer channel can't be opened\..*|Connection failed\.|Lost connection\."
    r"|Could not retrieve directory listing\.?|Can't establish TLS connection\.|Network error: .*"
    r"|Unable to send command\. Disconnected\.|SSL3 alert .*"
)


def _winsock(text: str) -> Result | None:
    return next((r for words, r in WINSOCK if words in text), None)


def sniff(head: bytes) -> bool:
    """Two lines of mark, space, yyyy-mm-dd hh:nn:ss.zzz, space."""
    seen = 0
    for line in lines_of(text_of(head))[:400]:
        if LINE.match(line):
            seen += 1
            if seen >= 2:
                return True
    return False


@reader("winscp", "a WinSCP session log", order=210)
def parse(path: Path, data: bytes) -> Log:
    file, clock, ctx = str(path), Clock(), Context()
    events: list[Event] = []
    settings: dict[str, str] = {}
    version = ""
    for n, line in enumerate(lines_of(text_of(data)), 1):
        m = LINE.fullmatch(line)
        if m is None:
            continue
        mark, text = m[1], m[7]
        try:
            when = datetime.fromisoformat(f"{m[2]}T{m[3]}:{m[4]}:{m[5]}.{m[6]}").replace(tzinfo=UTC)
        except ValueError:  # a date no clock shows: not a line of WinSCP's
            continue
        where, t, kind = Where(file, line=n), clock(when.timestamp()), KINDS[mark]
        if kind == "sent":
            text = mask(text)
            ctx.sent(text)
            events.append(Event("sent", text, where, t))
        elif kind == "received":
            ctx.received(text)
            events.append(Event("received", text, where, t))
        elif mark == ".":
            version = _settings(text, settings) or version
            events.append(_note(text, where, t, ctx, settings))
        else:  # "!" and "*": an exception restates the errors logged before it; no dial again
            events.append(Event("error", text, where, t))
    return Log(file, "winscp", "winscp", tuple(events), version, settings)


def _settings(text: str, settings: dict[str, str]) -> str:
    """Record a settings line; the version, if this is the version line."""
    m = VERSION.match(text)
    if m:
        return m[1]
    for pattern, keys in SETTINGS:
        s = pattern.fullmatch(text)
        if s:
            for key, value in zip(keys, s.groups()):
                if key == "transfer mode":
                    value = "Passive" if value == "Yes" else "Active"
                elif key == "encryption":  # the harness's words: explicit, implicit, none
                    value = value.split(" ", 1)[0].lower()
                settings.setdefault(key, value)
            break
    return ""


def _note(text: str, where: Where, t: float, ctx: Context, settings: dict[str, str]) -> Event:
    """A "." line: a status, a warning or an error, with what it says of a connection."""
    kind: Kind = "error" if ERRORS.fullmatch(text) else "note"

    dial = ctx.dial

    m = CONNECTING.fullmatch(text)
    if m:
        if ctx.offered:  # after a passive reply: the data connection, to the address it names
            ctx.data_host, ctx.data_port = host_port(m[1], 0)
            return Event(kind, text, where, t, dial=dial("data", None))
        ctx.connect(*host_port(m[1], int(settings.get("port", "21"))))
        return Event(kind, text, where, t, dial=dial("control", None))
    if CONNECTED.fullmatch(text):
        return Event(kind, text, where, t, dial=dial("control", "ok"))
    if REPLACED.fullmatch(text):
        return Event(kind, text, where, t, replaced_pasv=True)
    m = TIMEOUT.fullmatch(text)
    if m:
        conn: Connection = "data" if m[1] == "data" else "control"
        d = dial(conn, "timeout")
        if conn == "control":
            ctx.closed()
        return Event(kind, text, where, t, dial=d)
    if text.startswith(CHANNEL):
        return Event("error", text, where, t, dial=dial("data", _winsock(text)))
    m = NETWORK.fullmatch(text)
    if m:
        result: Result = "refused" if m[1] == "refused" else "timeout" if m[1] else "reset" if m[2] else "unreachable"
        return Event("error", text, where, t, dial=dial("control", result))
    winsock = _winsock(text)
    if winsock:
        return Event("error", text, where, t, dial=dial("data" if ctx.offered else "control", winsock))
    if text in ("TLS connection established", "Data connection opened") and ctx.offered:
        return Event(kind, text, where, t, dial=dial("data", "ok"), tls="handshake" if text[0] == "T" else None)
    if text == "Session ID reused":
        return Event(kind, text, where, t, tls="resumed")
    if text.startswith("Main TLS session ID not reused"):
        return Event(kind, text, where, t, tls="not-resumed")
    if text.startswith("SSL3 alert "):
        conn = "data" if ctx.offered else "control"
        return Event(kind, text, where, t, dial=dial(conn, "tls-alert"), tls=f"alert: {text[len('SSL3 alert ') :]}")
    if TLS_NOTES.fullmatch(text):
        return Event(kind, text, where, t, tls="handshake")
    return Event(kind, text, where, t)
