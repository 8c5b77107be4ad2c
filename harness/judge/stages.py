"""The stage a failed session stopped at, for every client, from the facts it reported.

Clients report facts only (harness/observe/observation.py): the activity they were in where
they know it (the ftplib agent), else the run they were in, their exit status and message,
read through the adapter's own declaration of what they mean (ClientAdapter.exit_says); the
control lines and each connection's result. This module alone turns those into the
verdict's (step, stage, kind). Rules apply in order; the first that matches decides.

`completion` (after `transfer`): the data arrived complete, but the reply that ends the
transfer (226) never came, or came after the control connection was reset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import clients
from harness.core.outcome import Stage
from harness.core.tls import mode as tls_mode
from harness.observe.observation import Activity, ClientReport, Connection, ControlLine, ExitSays, Failure

# Where each activity of a client that knows its own (the ftplib agent) belongs.
ACTIVITY_STAGE: dict[Activity, Stage] = {
    "connect": "connect",
    "greeting": "connect",
    "auth-tls": "tls-handshake",
    "tls-handshake": "tls-handshake",
    "login": "login",
    "protect": "login",
    "ccc": "login",
    "pwd": "login",
    "type": "data-setup",
    "negotiate": "data-setup",
    "transfer-command": "transfer",
    "transfer-reply": "data-connect",
    "data-connect": "data-connect",
    "data-tls": "data-tls",
    "data-transfer": "transfer",
    "final-reply": "transfer",
    "compare": "integrity",
    "dele": "transfer",
    "quit": "transfer",
}

# What a command-line client's exit status says, where it names the stage outright.
EXIT_STAGE: dict[ExitSays, Stage] = {
    "no-connection": "connect",
    "certificate": "tls-handshake",
    "login-refused": "login",
    "negotiation": "data-setup",
    "data-connection": "data-connect",
    "transfer-failed": "transfer",
}


@dataclass(frozen=True)
class Placed:
    step: str
    stage: Stage
    kind: str


@dataclass(frozen=True)
class Facts:
    """The failing session's facts: the last control connection's lines and connections."""

    failure: Failure
    says: ExitSays | None  # what the client's exit status says (command-line clients)
    tls: str  # the case's TLS mode
    lines: tuple[ControlLine, ...]
    data: tuple[Connection, ...]  # data connections that were tried

    def received(self, code: str) -> bool:
        return any(line.dir == "recv" and line.line.startswith(code) for line in self.lines)

    @property
    def data_failed(self) -> bool:
        return bool(self.data) and self.data[-1].result != "ok"

    @property
    def after_data(self) -> bool:
        """A data connection was negotiated and tried before the failure."""
        return bool(self.data) and any(
            line.dir == "recv" and line.line[:3] in ("227", "229", "200") and "PORT" not in line.line
            for line in self.lines
        )

    @property
    def reply(self) -> str:
        return self.failure.reply or ""


Rule = Callable[[Facts], Placed | None]


def _same(stage: Stage, kind: str) -> Placed:
    return Placed(stage, stage, kind)


def _hung(x: Facts) -> Placed | None:
    if x.says == "hung":
        return Placed(x.failure.command or "transfer", "transfer", "timeout")
    return None


def _never_greeted(x: Facts) -> Placed | None:
    if x.received("220"):
        return None
    tls = tls_mode(x.tls).implicit and x.says == "tls"
    return Placed("connect", "tls-handshake" if tls else "connect", x.failure.kind)


def _data_connect_failed(x: Facts) -> Placed | None:
    if x.data_failed or (x.says == "unreached" and x.data):
        return _same("data-connect", x.data[-1].result or x.failure.kind if x.data else x.failure.kind)
    return None


TRANSFER_COMMANDS = ("STOR", "RETR", "LIST", "NLST", "MLSD", "APPE")


def _transfer_refused_425(x: Facts) -> Placed | None:
    """The server answered the transfer command with 425: it could not open the data
    connection. Whatever the client said after (lftp: "max-retries exceeded"), that is where
    it stopped, for every client alike."""
    after = False
    for line in x.lines:
        if line.dir == "sent":
            after = line.line.split(" ", 1)[0].upper() in TRANSFER_COMMANDS
        elif after and line.line[:3].isdigit():
            if line.line.startswith("425"):
                return _same("data-connect", "reply")
            after = line.line[:1] == "1"  # a preliminary reply: the final one is still to come
    return None


def _tls(x: Facts) -> Placed | None:
    if x.says == "tls":
        return _same("data-tls" if x.after_data else "tls-handshake", "tls-error")
    if x.says == "tls-unclear" and not x.received("230"):
        return _same("tls-handshake", "tls-error")
    return None


def _not_logged_in(x: Facts) -> Placed | None:
    if x.says in (None, "tls-unclear") and not x.received("230"):
        return _same("login", "reply")
    return None


def _data_tls_refused(x: Facts) -> Placed | None:
    if x.reply.startswith("522") or (x.says in (None, "tls-unclear") and "reuse" in x.reply.lower()):
        return _same("data-tls", "reply")
    return None


def _exit_status(x: Facts) -> Placed | None:
    e = x.says
    if e is not None and e in EXIT_STAGE:
        return _same(EXIT_STAGE[e], "reply" if e == "login-refused" else x.failure.kind)
    if e == "unreached":  # no data connection was tried: the control connection's login failed
        return _same("login", x.failure.kind)
    if e == "other":
        return Placed(x.failure.command or "transfer", "transfer", x.failure.kind)
    return None


def _reply_stage(reply: str) -> Stage:
    """The stage a refused transfer command stopped at: 425/426 mean the data connection itself
    failed, 522 its TLS; other codes, the command did."""
    by_code: dict[str, Stage] = {"425": "data-connect", "426": "data-connect", "522": "data-tls"}
    return by_code.get(reply[:3], "data-setup")


def _reply_code(x: Facts) -> Placed | None:
    code = x.reply[:3]
    if code in ("425", "426") or "foreign" in x.reply.lower():
        return _same("data-connect", "reply")
    if code in ("500", "501", "502", "504"):
        return _same("data-setup", "reply")
    return None


RULES: list[Rule] = [
    _hung,
    _never_greeted,
    _data_connect_failed,
    _transfer_refused_425,
    _tls,
    _not_logged_in,
    _data_tls_refused,
    _exit_status,
    _reply_code,
]


def _lost_control(report: ClientReport) -> Connection | None:
    """The latest control connection, if it was tried and never connected (a later session's
    control connection has no transcript lines, so the last transcript belongs to an earlier one)."""
    ctl = [c for c in report.control if c.result is not None]
    if (
        ctl
        and ctl[-1].result in ("timeout", "refused", "unreachable")
        and not any(line.session == ctl[-1].session for line in report.transcript)
    ):
        return ctl[-1]
    return None


def _completed_unanswered(report: ClientReport) -> bool:
    """The last data connection moved all its data (the client says so; the server had said
    1xx), but the reply that closes the transfer never came: the `completion` stage."""
    tried = [c for c in report.data if c.result is not None]
    if not tried:
        return False
    c = tried[-1]
    return (
        c.result == "ok"
        and c.done is True
        and c.transfer is None
        and (c.preliminary or "")[:1] == "1"
        and c.final is None
        and report.failure is not None
        and report.failure.kind != "reply"
    )


def exit_says(client: str, failure: Failure) -> ExitSays | None:
    """What `client`'s exit status and message say, as its adapter declares (None where the
    client knows its own activity, or is not in this checkout)."""
    if failure.step is not None:
        return None
    try:
        return clients.get(client).exit_says(failure)
    except KeyError:  # a recording of a client this checkout does not have
        return None


def place(report: ClientReport, tls: str, client: str) -> Placed:
    """(step, stage, kind) of a failed session of `client` (its registered name)."""
    f = report.failure
    assert f is not None, "place() needs a failed report"
    if f.step in ("final-reply", "data-transfer", "transfer-command", None) and _completed_unanswered(report):
        return Placed("transfer", "completion", f.kind)
    if f.step == "transfer-reply" and f.kind == "reply":  # the server refused the transfer command
        return _same(_reply_stage(f.reply or ""), f.kind)
    if f.step:  # the client knows its activity exactly
        return Placed(f.step, ACTIVITY_STAGE.get(f.step, "transfer"), f.kind)
    lost = _lost_control(report)
    if lost is not None:  # a control connection that never connected: the session stopped there
        return _same("connect", lost.result or f.kind)
    last = max((line.session for line in report.transcript), default=0)
    facts = Facts(
        f,
        exit_says(client, f),
        tls,
        tuple(line for line in report.transcript if line.session == last),
        tuple(c for c in report.data if c.session == last and c.result is not None),
    )
    for rule in RULES:
        placed = rule(facts)
        if placed is not None:
            return placed
    return _same("transfer", f.kind)
