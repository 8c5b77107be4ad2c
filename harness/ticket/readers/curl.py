"""`curl -v` output: `*` curl's notes, `>` sent, `<` received (curl's man page, --verbose).

    *   Trying 203.0.113.10:21...
    * Connected to 203.0.113.10 (203.0.113.10) port 21 (#0)
    < 227 Entering Passive Mode (10,0,2,2,195,86).
    * Connecting to 10.0.2.2 (10.0.2.2) port 50006
    * connect to 10.0.2.2 port 50006 failed: Connection refused
    * Failed to connect to 203.0.113.10 port 21 after 23 ms: Couldn't connect to server
    curl: (7) Failed to connect to 203.0.113.10 port 21 after 23 ms: Couldn't connect to server

curl 7.88 names the control port in "Failed to connect" even for a data connection, so a
failure belongs to the connection last tried. `{ [5 bytes data]` and the progress meter
interleave with the trace and are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.ticket.log import Dial, Event, Kind, Log, Result, Where
from harness.ticket.readers import reader
from harness.ticket.readers._text import lines, result_of

_TRYING = re.compile(r"^\*\s+Trying \[?([\d.a-fA-F:]+?)\]?:(\d+)\.\.\.")
_CONNECTING = re.compile(r"^\* Connecting to \S+ \(([\d.a-fA-F:]+)\) port (\d+)")
_CONNECTED = re.compile(r"^\* Connected to \S+ \(([\d.a-fA-F:]+)\) port (\d+)")
_FAILED = re.compile(
    r"^\* (?:connect to \S+ port \d+ failed|Failed to connect to .*?|Immediate connect fail for \S+): (.*)$"
)
_SKIP = re.compile(r"^\* Skip (\S+) for data connection, re-?use (\S+) instead")
_CURL_ERROR = re.compile(r"^curl: \((\d+)\) (.*)$")
_TLS_VERSION = re.compile(r"^\* SSL connection using (TLSv[\d.]+)")
_ALERT = re.compile(r"^\* (TLSv[\d.]+) \(IN\), TLS alert, (.*)$")
_COMMAND = re.compile(r"^\$ curl .*$")
_MARKS = (
    re.compile(rb"^\*\s+Trying ", re.M),
    re.compile(rb"^< \d{3}[ -]", re.M),
    re.compile(rb"^> [A-Z]{3,4}\b", re.M),
)


def sniff(head: bytes) -> bool:
    return all(m.search(head) for m in _MARKS)


@reader("curl", "curl -v output (* notes, > sent, < received)", order=30)
def parse(path: Path, data: bytes) -> Log:
    events: list[Event] = []
    control_port = 0
    pending: tuple[str, str, int] | None = None  # the connection last tried: (conn, host, port)
    after_data_reply = False
    data_handshake = False  # a data connection is up and its TLS handshake not done
    settings: dict[str, str] = {}

    def dialled(result: Result, text: str, where: Where) -> None:
        nonlocal pending
        if pending is None:
            events.append(Event("error", text, where))
            return
        conn, host, port = pending
        kind: Kind = "note" if result == "ok" else "error"
        events.append(
            Event(kind, text, where, dial=Dial("control" if conn == "control" else "data", host, port, result))
        )
        pending = None

    for n, raw in lines(data):
        where = Where(str(path), n)
        if _COMMAND.match(raw):
            settings["command"] = raw[2:]
            control_port, pending, after_data_reply = 0, None, False
        elif raw.startswith("> "):
            text = raw[2:]
            events.append(Event("sent", "PASS ******" if text.upper().startswith("PASS ") else text, where))
        elif raw.startswith("< "):
            events.append(Event("received", raw[2:], where))
            after_data_reply = raw[2:5] in ("227", "229")
        elif m := _TRYING.match(raw):
            host, port = m.group(1), int(m.group(2))
            conn = "control" if not control_port or (port == control_port and not after_data_reply) else "data"
            control_port = control_port or port
            if conn == "data" and pending and pending[0] == "data":
                continue  # "Connecting to" said it already
            pending = (conn, host, port)
            events.append(Event("note", raw[2:].strip(), where))
        elif m := _CONNECTING.match(raw):
            pending = ("data", m.group(1), int(m.group(2)))
            events.append(Event("note", raw[2:], where))
        elif m := _CONNECTED.match(raw):
            data_handshake = bool(pending and pending[0] == "data")
            dialled("ok", raw[2:], where)
            after_data_reply = False
        elif m := _FAILED.match(raw):
            dialled(result_of(m.group(1)), raw[2:], where)
        elif m := _SKIP.match(raw):
            events.append(Event("note", raw[2:], where, replaced_pasv=True))
        elif raw.startswith("* Connection accepted from server"):
            events.append(Event("note", raw[2:], where, dial=Dial("data", "", 0, "ok")))
        elif "Accept timeout occurred" in raw or "Error accept()ing server connect" in raw:
            events.append(Event("error", raw[2:], where, dial=Dial("data", "", 0, "timeout")))
        elif m := _TLS_VERSION.match(raw):
            events.append(Event("note", raw[2:], where, tls=f"version {m.group(1)}"))
            data_handshake = False
        elif data_handshake and "(IN), TLS handshake, Certificate (11)" in raw:
            # the server sent its certificate again: a full handshake, the session not resumed
            events.append(Event("note", raw[2:], where, tls="not-resumed"))
            data_handshake = False
        elif "TLS handshake, Client hello" in raw:
            events.append(Event("note", raw[2:], where, tls="handshake"))
        elif raw.startswith("* SSL re-using session ID"):
            events.append(Event("note", raw[2:], where, tls="resume-offered"))  # curl offers; the server decides
        elif raw.startswith(("* OpenSSL SSL_", "* SSL certificate problem")):
            events.append(Event("error", raw[2:], where, tls=f"alert: {raw[2:]}"))
        elif m := _ALERT.match(raw):
            events.append(Event("error", raw[2:], where, tls=f"alert: {m.group(2)}"))
        elif m := _CURL_ERROR.match(raw):
            events.append(Event("error", raw, where))
    return Log(str(path), "curl", "curl", tuple(events), settings=settings)
