"""lftp debug output (`lftp -d`, or `debug` in lftp): `--->` sent, `<---` received, `----`
lftp's own notes, `****` its errors.

    ---- Connecting to ftp.example.com (203.0.113.10) port 21
    <--- 227 Entering Passive Mode (10,0,2,2,195,85).
    ---- Connecting data socket to (10.0.2.2) port 50005
    **** Data socket error (Connection refused) - reconnecting
    ---- Address returned by PASV seemed to be incorrect and has been fixed
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.ticket.log import Dial, Event, Log, Where
from harness.ticket.readers import reader
from harness.ticket.readers._text import lines, result_of

_CONTROL = re.compile(r"^---- Connecting to \S+ \(([\d.a-fA-F:]+)\) port (\d+)")
_DATA = re.compile(r"^---- Connecting data socket to \(([\d.a-fA-F:]+)\) port (\d+)")
_ACCEPTED = re.compile(r"^---- Accepted data connection from \(([\d.a-fA-F:]+)\) port (\d+)")
_MARKS = (re.compile(rb"^---> [A-Z]{3,4}\b", re.M), re.compile(rb"^<--- \d{3}", re.M))


def sniff(head: bytes) -> bool:
    return all(m.search(head) for m in _MARKS)


@reader("lftp", "lftp debug output (---> sent, <--- received, ---- notes)", order=40)
def parse(path: Path, data: bytes) -> Log:
    events: list[Event] = []
    pending: Dial | None = None  # the connection last tried, until it answers or fails
    tried: Event | None = None  # the line that said so
    for n, raw in lines(data):
        where = Where(str(path), n)
        if raw.startswith("---> "):
            text = raw[5:]
            events.append(Event("sent", "PASS ******" if text.upper().startswith("PASS ") else text, where))
        elif raw.startswith("<--- "):
            if pending and pending.conn == "control" and tried:
                events.append(
                    Event("note", tried.text, tried.where, dial=Dial("control", pending.host, pending.port, "ok"))
                )
                pending = None
            events.append(Event("received", raw[5:], where))
        elif m := _CONTROL.match(raw):
            pending, tried = Dial("control", m.group(1), int(m.group(2))), Event("note", raw[5:], where)
            events.append(tried)
        elif m := _DATA.match(raw):
            pending = Dial("data", m.group(1), int(m.group(2)))
            events.append(Event("note", raw[5:], where))
        elif raw.startswith("---- Data connection established"):
            if pending and pending.conn == "data":
                events.append(Event("note", raw[5:], where, dial=Dial("data", pending.host, pending.port, "ok")))
                pending = None
        elif m := _ACCEPTED.match(raw):
            events.append(Event("note", raw[5:], where, dial=Dial("data", m.group(1), int(m.group(2)), "ok")))
        elif raw.startswith("---- Address returned by PASV seemed to be incorrect"):
            events.append(Event("note", raw[5:], where, replaced_pasv=True))
        elif raw.startswith("---- "):
            events.append(Event("note", raw[5:], where))
        elif raw.startswith("**** "):
            dial = Dial(pending.conn, pending.host, pending.port, result_of(raw)) if pending else None
            tls = f"alert: {raw[5:]}" if re.search(r"ssl|tls|gnutls|certificate", raw, re.I) else None
            events.append(Event("error", raw[5:], where, dial=dial, tls=tls))
            pending = None
        elif re.match(r"^\w+: (Fatal error|Access failed|Login failed)", raw):
            events.append(Event("error", raw, where))
    return Log(str(path), "lftp", "lftp", tuple(events))
