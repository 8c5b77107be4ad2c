"""Facts a ticket's logs establish, each with the line or packet it rests on (pure).

One pass over each log's events, following the session's phase (connect, the TLS
handshake, login, the data command, the data connection, the transfer, its completion), so
an error the client only words ("Connection timed out") is placed where the session was.
Several files of one ticket combine: a client log's facts first, a capture fills in what the
log does not say (a data connection's SYN that met silence, a TLS resumption offer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Generic, TypeVar

import servers
from harness.core import family
from harness.core.family import Announced
from harness.core.outcome import Stage
from harness.ticket.log import Dial, Event, Log, Where

T = TypeVar("T")
DATA_COMMANDS = {"PASV": "pasv", "EPSV": "epsv", "PORT": "port", "EPRT": "eprt"}
TRANSFER_COMMANDS = ("STOR", "RETR", "LIST", "MLSD", "NLST", "APPE", "STOU")
# A reply that ends a step, by code: the stage it fails.
REPLY_STAGE: dict[str, Stage] = {
    "530": "login",
    "425": "data-connect",
    "426": "transfer",
    "522": "data-tls",
    "450": "transfer",
    "451": "transfer",
    "452": "transfer",
    "550": "transfer",
    "553": "transfer",
}


@dataclass(frozen=True)
class Fact(Generic[T]):
    value: T
    where: Where
    said: str  # the line or note it rests on, as the file has it

    def cite(self) -> str:
        return f"{self.where}: {self.said}"


@dataclass(frozen=True)
class Failure:
    stage: Stage
    kind: str  # timeout, refused, reset, unreachable, tls-alert, or "reply 425"
    said: str
    where: Where

    def cite(self) -> str:
        return f"{self.where}: {self.said}"


@dataclass
class Facts:
    files: tuple[str, ...] = ()
    client: str = "unknown"  # filezilla, winscp, curl, lftp, unknown (a capture)
    client_version: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    control: Fact[tuple[str, int]] | None = None
    banner: Fact[str] | None = None
    tls: Fact[str] | None = None  # none (as far as the log shows), explicit, implicit, ccc
    tls_version: Fact[str] | None = None
    modes: tuple[Fact[str], ...] = ()  # every data command sent, in order: pasv, epsv, port, eprt
    announced: Fact[Announced] | None = None  # the 227/229/PORT/EPRT of the failing (else last) transfer
    used: Fact[str] | None = None  # where the client dialled for data: announced, control, other
    data_dial: Fact[Dial] | None = None  # the failing (else last) data connection
    failure: Failure | None = None
    resumption: tuple[Fact[str], ...] = ()
    fallbacks: tuple[Fact[str], ...] = ()  # EPSV -> PASV, active -> passive
    refusals: tuple[Fact[str], ...] = ()  # every 4xx/5xx reply the server gave
    transfers: int = 0  # 226 replies

    @property
    def server(self) -> str | None:
        """The registered server the banner names, if any."""
        a = servers.identify(self.banner.value.splitlines()) if self.banner else None
        return a.name if a else None

    @property
    def mode(self) -> Fact[str] | None:
        """The data mode of the failing (else last) transfer."""
        return self.modes[-1] if self.modes else None

    @property
    def address_kind(self) -> str | None:
        """What a 227's address is, seen from the control connection: same, private,
        neighbour, third-party (family.classify); a PORT/EPRT's: private or public."""
        a = self.announced
        if a is None or not a.value.ip:
            return None
        if a.said.upper().startswith(("PORT", "EPRT")):
            return "private" if family.private(a.value.ip) else "public"
        return family.classify(a.value.ip, self.control.value[0]) if self.control else None


def derive(logs: list[Log]) -> Facts:
    """The facts of one ticket: each file's, client logs before captures."""
    ordered = sorted(logs, key=lambda g: g.format == "pcap")
    out = Facts(files=tuple(g.file for g in logs))
    for g in ordered:
        _fill(out, _one(g))
    return out


def _fill(out: Facts, more: Facts) -> None:
    for f in fields(Facts):
        if f.name == "files":
            continue
        have, new = getattr(out, f.name), getattr(more, f.name)
        if f.name == "data_dial" and have is not None and new is not None:
            if have.value.result in (None, "closed") and new.value.result not in (None, "closed"):
                setattr(out, f.name, new)  # the capture saw what the log could not say
        elif (f.name == "client" and have == "unknown") or (f.name != "client" and not have and new):
            setattr(out, f.name, new)


class _Session:
    """The phase a session is in, and the facts so far, as one log is read."""

    def __init__(self, log: Log) -> None:
        self.f = Facts(client=log.client, client_version=log.client_version, settings=dict(log.settings))
        self.phase: Stage = "connect"
        self.last: Event | None = None  # the last command sent
        self.data_cmd: Event | None = None
        self.logged_in = False
        self.protected = False  # PROT P: data connections are TLS
        self.greeting: list[Event] = []  # the lines of a greeting of several lines
        self.offered = False  # the current data connection's ClientHello offered resumption

    def fail(self, stage: Stage, kind: str, e: Event) -> None:
        if self.f.failure is None:
            self.f.failure = Failure(stage, kind, e.text, e.where)

    def sent(self, e: Event) -> None:
        verb = e.text.split(" ", 1)[0].upper()
        f = self.f
        if verb in DATA_COMMANDS:
            mode = DATA_COMMANDS[verb]
            prev = f.modes[-1].value if f.modes else None
            if prev and f.failure and f.failure.stage in ("data-setup", "data-connect", "data-tls"):
                # the client went on after a failed data connection: another try, or another way
                if prev != mode:
                    passive = "active -> passive" if prev in ("port", "eprt") and mode in ("pasv", "epsv") else ""
                    was = passive or f"{prev.upper()} -> {mode.upper()}"
                    f.fallbacks += (Fact(was, e.where, f"{f.failure.said} ... then {e.text}"),)
                f.failure = None
            f.modes += (Fact(mode, e.where, e.text),)
            self.data_cmd = e
            self.phase = "data-setup"
            if verb in ("PORT", "EPRT") and (a := family.announced(e.text)):
                f.announced, f.used = Fact(a, e.where, e.text), None
        elif verb in TRANSFER_COMMANDS and self.phase not in ("data-connect", "data-setup"):
            self.phase = "data-connect" if self.data_cmd else self.phase
        elif verb == "AUTH":
            self.phase = "tls-handshake"
        elif verb == "USER":
            self.phase = "login"
        elif verb == "PROT":
            self.protected = e.text.upper().endswith(" P")
        self.last = e

    def received(self, e: Event) -> None:
        code, f = e.text[:3], self.f
        if not code.isdigit() or e.text[3:4] == "-" or e.text.startswith(" "):
            if self.phase == "connect" and f.banner is None:  # a greeting of several lines
                self.greeting.append(e)
            return
        last = self.last.text.split(" ", 1)[0].upper() if self.last else ""
        if code[0] in "45":
            f.refusals += (Fact(e.text, e.where, e.text),)
        if code == "220" and f.banner is None:
            first = self.greeting[0] if self.greeting else e
            text = "\n".join(x.text for x in (*self.greeting, e))
            f.banner = Fact(text, first.where, text)
            self.phase = "login"
        elif code == "234" and last == "AUTH" and (f.tls is None or f.tls.value == "none"):
            f.tls = Fact("explicit", e.where, e.text)
        elif code == "200" and last == "CCC":
            f.tls = Fact("ccc", e.where, e.text)
        elif code == "230":
            self.logged_in, self.phase = True, "data-setup"
        elif code in ("227", "229") and (a := family.announced(e.text)):
            f.announced, f.used, f.data_dial = Fact(a, e.where, e.text), None, None
            self.phase = "data-connect"
        elif code == "150" or code == "125":
            self.phase = "transfer"
        elif code == "226":
            f.transfers += 1
            self.phase = "data-setup"
        elif code == "425":  # the data connection failed (some servers say so after the next command)
            self.fail("data-connect", "reply 425", e)
        elif code[0] in "45" and last in DATA_COMMANDS:
            self.fail("data-setup", f"reply {code}", e)
        elif code == "530" and last not in ("USER", "PASS", "ACCT"):
            pass  # a command before the login (lftp's OPTS UTF8 ON): not the login refused
        elif code in REPLY_STAGE and (code != "550" or last in TRANSFER_COMMANDS):
            self.fail(REPLY_STAGE[code], f"reply {code}", e)

    def note(self, e: Event) -> None:
        f = self.f
        if e.dial is not None:
            self._dial(e, e.dial)
        if e.replaced_pasv:
            f.used = Fact("control", e.where, e.text)
        if e.tls == "handshake" and f.tls is None and self.phase == "connect":
            f.tls = Fact("implicit", e.where, e.text)
        elif e.tls and e.tls.startswith("version ") and f.tls_version is None:
            f.tls_version = Fact(e.tls.split(" ", 1)[1], e.where, e.text)
        elif e.tls in ("resumed", "resume-offered", "not-resumed"):
            f.resumption += (Fact(e.tls, e.where, e.text),)
            self.offered = self.offered or e.tls == "resume-offered"
        elif e.tls == "handshake" and self.logged_in and not self.offered:
            # a data connection's ClientHello that offers no resumption
            f.resumption += (Fact("not-offered", e.where, e.text),)

    def _dial(self, e: Event, d: Dial) -> None:
        f = self.f
        if d.conn == "control":
            if f.control is None and d.host:
                f.control = Fact((d.host, d.port), e.where, e.text)
                if d.port == 990 and f.tls is None:
                    f.tls = Fact("implicit", e.where, e.text)
            if d.result not in (None, "ok"):
                self.fail("connect" if f.banner is None else self.phase, d.result or "", e)
            return
        f.data_dial = Fact(d, e.where, e.text)
        self.offered = False  # a new data connection: its ClientHello is still to come
        a = f.announced
        if d.host and a and f.control and f.used is None:
            if a.value.ip and family.same_address(d.host, a.value.ip):
                f.used = Fact("announced", e.where, e.text)
            elif family.same_address(d.host, f.control.value[0]):
                f.used = Fact("control", e.where, e.text)
            else:
                f.used = Fact("other", e.where, e.text)
        if d.result == "ok":
            self.phase = "data-tls" if self.protected else "transfer"
        elif d.result is not None:  # a connection that was up and then broke fails where the session was
            up = self.phase in ("data-tls", "transfer", "completion") and d.result in ("reset", "closed", "timeout")
            self.fail(self.phase if up else "data-connect", d.result, e)

    def error(self, e: Event) -> None:
        if e.dial is not None:
            self.note(e)
            return
        if e.tls and e.tls.startswith("alert"):
            stage: Stage = "tls-handshake" if not self.logged_in else "data-tls"
            self.fail(stage, "tls-alert", e)
            return
        kind = _kind(e.text)
        if kind:
            self.fail(self.phase, kind, e)


def _kind(text: str) -> str | None:
    t = text.lower()
    for words, kind in (
        (("timed out", "timeout", "time-out"), "timeout"),
        (("refused",), "refused"),
        (("reset",), "reset"),
        (("no route", "unreachable"), "unreachable"),
        (("gnutls", "ssl", "tls", "certificate"), "tls-alert"),
    ):
        if any(w in t for w in words):
            return kind
    if re.search(r"\bcurl: \(\d+\)", text) or "failed" in t or "error" in t:
        return "error"
    return None


def _one(log: Log) -> Facts:
    s = _Session(log)
    for e in log.events:
        {"sent": s.sent, "received": s.received, "note": s.note, "error": s.error}[e.kind](e)
    f = s.f
    if f.tls is None and f.control is not None:
        first = log.events[0] if log.events else None
        f.tls = Fact("none", first.where if first else Where(log.file), "no AUTH, no TLS handshake in the log")
    return replace(f, files=(log.file,))
