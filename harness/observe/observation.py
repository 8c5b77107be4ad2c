"""What each party reported about one run of a case: facts only, no judgement.

Clients fill a ClientReport, server adapters a ServerView, the middlebox watches a
MiddleboxView (harness/observe/middlebox_view.py). The judge gathers Evidence from them later
(harness/judge/evidence.py), places the failure's stage (harness/judge/stages.py), and its
checks decide the verdict (harness/judge/checks/). JSON for recordings:
harness/observe/recording.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from harness.build.topology import Topology
from harness.core.case import Case
from harness.observe.middlebox_view import MiddleboxView


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        host, _, port = text.rpartition(":")
        return cls(host.strip("[]"), int(port))


@dataclass(frozen=True)
class Step:
    """One step the client completed or failed ("connect", "login", "stor", ...)."""

    name: str
    ok: bool = True
    t: float | None = None  # seconds since the session started
    reply: str | None = None
    kind: str | None = None  # error kind when not ok (refused, timeout, tls-error, reply, ...)
    detail: dict[str, Any] = field(default_factory=dict)  # e.g. bytes, TLS version, local address


@dataclass(frozen=True)
class ControlLine:
    """One control line as one end sent or received it."""

    dir: str  # sent | recv
    line: str
    t: float | None = None
    peer: str | None = None  # the other end ("10.0.1.2:40000"), where known
    session: int = 0  # which control connection of the case (0 = the first)
    host: str | None = None  # the server host that logged it (several behind a balancer)


# In Connection.cleartext: a byte the TLS layer consumed before the client could see it.
UNSEEN = "\ufffd"


@dataclass(frozen=True)
class Connection:
    """One connection the client opened or accepted, and what became of it.

    Control connections carry role, target and result; data connections also carry the
    negotiation that led to them (the PASV/EPSV reply or the PORT/EPRT line) and the
    transfer over them."""

    role: str  # control | data
    session: int = 0
    target: Endpoint | None = None  # where the client connected (passive) or dialled
    result: str | None = None  # ok, refused, timeout, unreachable, reset, eof, tls-verify,
    #                            tls-error, error; None if never tried
    error: str | None = None
    local: str | None = None
    peer: str | None = None  # who connected to the client (active mode)
    cmd: str | None = None  # the command this data connection served (STOR, LIST, PASV...)
    mode: str | None = None  # pasv | epsv | port | eprt
    sent: str | None = None  # the PORT/EPRT line the client sent
    listen: str | None = None  # where the client listened (active mode)
    reply: str | None = None  # the reply to PASV/EPSV/PORT/EPRT
    advertised_ip: str | None = None
    advertised_port: int | None = None
    control_peer: str | None = None  # the control connection's far end, as the client saw it
    preliminary: str | None = None  # the reply to the transfer command (1xx, or an error)
    final: str | None = None  # the reply after the transfer
    late_reply: str | None = None  # a reply read from the control channel after a failure
    tls: str | None = None  # ok or an error kind
    tls_version: str | None = None
    cipher: str | None = None
    session_reused: bool | None = None
    close_notify_sent: bool | None = None  # this client sent a TLS close_notify before closing
    close_notify_received: bool | None = None  # the peer's close_notify arrived before its FIN
    sent_bytes: int | None = None  # what the sending side wrote (STOR: the client)
    arrived_bytes: int | None = None  # what the receiving side holds (STOR: the server's SIZE)
    sha256: str | None = None  # of what arrived at the client (RETR) or what it sent (STOR)
    ccc: str | None = None  # control connections: ok, or the reply refusing CCC
    transfer: str | None = None  # error kind of the transfer itself
    done: bool | None = None  # the client moved all its data over it (None: it cannot tell)
    bytes: int | None = None
    note: str | None = None  # what the client said about it ("Skip 10.0.2.2 for data connection")
    # What the server wrote in clear where a TLS record belonged, when the TLS layer failed on
    # it ("wrong version number"): its first bytes (at most 256), one character per byte (latin-1);
    # U+FFFD stands for a byte the TLS layer consumed before the client could see it.
    cleartext: str | None = None


# What a client was doing when it stopped, where it knows exactly (the ftplib agent does).
Activity = Literal[
    "connect",
    "greeting",
    "auth-tls",
    "tls-handshake",
    "login",
    "protect",
    "ccc",
    "pwd",
    "type",
    "negotiate",  # PASV, EPSV, PORT or EPRT, and reading its reply
    "transfer-command",  # sending STOR, RETR or LIST
    "transfer-reply",  # waiting for the 1xx that opens the transfer (or the reply refusing it)
    "data-connect",
    "data-tls",
    "data-transfer",  # moving the bytes
    "final-reply",  # waiting for the reply that closes the transfer
    "compare",
    "dele",
    "quit",
]

# What a command-line client's exit status and message say happened, in words every client
# shares; each adapter declares how its own exit codes and messages read (ClientAdapter.exit_says).
ExitSays = Literal[
    "hung",  # it did not finish in time
    "tls",  # a TLS handshake failed
    "tls-unclear",  # the message mentions TLS but not which connection
    "unreached",  # a connection could not be made (control or data: the trace decides)
    "no-connection",  # the control connection failed
    "certificate",  # the server's certificate was refused
    "login-refused",
    "negotiation",  # the server refused or garbled the data connection's negotiation
    "data-connection",  # the data connection failed
    "transfer-failed",
    "other",  # an exit status with no meaning here
]


@dataclass(frozen=True)
class Failure:
    """Where and how the client stopped, as facts in its own terms: the ftplib agent knows its
    activity exactly (`step`); a command-line client gives the run it was in (`command`), its
    exit status and its message. harness/judge/stages.py alone turns these into a stage."""

    kind: str  # what the error is on the wire: refused, timeout, reset, tls-error, reply, ...
    error: str  # the client's own message
    reply: str | None = None  # the server's reply that ended it, if any
    step: Activity | None = None
    command: str | None = None
    exit_code: int | None = None  # a command-line client's exit status; -1: it did not finish in time
    interrupted: bool = False  # the harness stopped the wait (harness/run/early_stop.py); else a real timeout


@dataclass(frozen=True)
class ClientReport:
    ok: bool
    steps: tuple[Step, ...] = ()
    transcript: tuple[ControlLine, ...] = ()
    connections: tuple[Connection, ...] = ()
    failure: Failure | None = None
    raw_output: tuple[str, ...] = ()
    busy_replies: tuple[str, ...] = ()
    duration_s: float | None = None

    @property
    def data(self) -> list[Connection]:
        return [c for c in self.connections if c.role == "data"]

    @property
    def control(self) -> list[Connection]:
        return [c for c in self.connections if c.role == "control"]


@dataclass(frozen=True)
class LogLine:
    host: str
    text: str
    t: float | None = None


@dataclass(frozen=True)
class ServerView:
    """What the server(s) logged: control lines with peer and time, and their own log."""

    lines: tuple[ControlLine, ...] = ()
    log: tuple[LogLine, ...] = ()

    @classmethod
    def of(cls, events: list[ControlLine | LogLine]) -> ServerView:
        """From the events of every server, in time order."""
        events = sorted(events, key=lambda e: e.t or 0.0)
        return cls(
            tuple(e for e in events if isinstance(e, ControlLine)), tuple(e for e in events if isinstance(e, LogLine))
        )


@dataclass
class Observation:
    """Facts from one run of a case. No judgement."""

    case: Case
    topology: Topology
    client: ClientReport | None  # None: the client produced no report
    server: ServerView = field(default_factory=ServerView)
    middleboxes: dict[str, MiddleboxView] = field(default_factory=dict)
    harness_error: str | None = None
    captures: list[str] = field(default_factory=list)  # pcap and key log files, if recorded
    stopped_early: str | None = None  # the trace drop that ended the client's wait (harness/run/early_stop.py)

    @property
    def server_log(self) -> list[str]:
        """The servers' log lines, each prefixed by its host when there are several."""
        many = len(self.topology.servers) > 1
        return [f"{l.host}: {l.text}" if many else l.text for l in self.server.log]
