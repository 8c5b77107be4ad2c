"""The stage a failed session stopped at, for every client, from the facts it reported.

Clients report facts only (harness/observation.py): the exact step where they know it
(the ftplib probe), else the command they ran, their exit status in the vocabulary below,
the control lines and each connection's result. This module alone turns those into the
verdict's (step, stage, kind). Rules apply in order; the first that matches decides.

`completion` (after `transfer`): the data arrived complete, but the reply that ends the
transfer (226) never came, or came after the control connection was reset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from harness.observe.observation import ClientReport, Connection, ControlLine, Failure
from harness.core.tls import mode as tls_mode

# The probe's own steps, and the stage each belongs to ("transfer-start": see _reply_stage).
STEP_STAGE = {
    "connect": "connect", "greeting": "connect", "tls-handshake": "tls-handshake",
    "login": "login", "protect": "login", "ccc": "login", "pwd": "login",
    "data-setup": "data-setup", "data-connect": "data-connect", "data-tls": "data-tls",
    "transfer": "transfer", "integrity": "integrity", "dele": "transfer", "quit": "transfer",
}

# What a command-line client's exit status says (adapters map their exit codes to these):
#   hung        the client did not finish in time
#   tls         a TLS handshake failed
#   tls-unsure  the message mentions TLS, but the client does not say which connection
#   unreached   a connection could not be made (control or data: the trace decides)
#   other       an exit status with no meaning here
#   connect, tls-verify, login, data-setup, data-connect, transfer: as in EXIT_STAGE
EXIT_STAGE = {"connect": "connect", "tls-verify": "tls-handshake", "login": "login",
              "data-setup": "data-setup", "data-connect": "data-connect", "transfer": "transfer"}


@dataclass(frozen=True)
class Placed:
    step: str
    stage: str
    kind: str


@dataclass(frozen=True)
class Facts:
    """The failing session's facts: the last control connection's lines and connections."""
    failure: Failure
    tls: str  # the case's TLS mode
    lines: tuple[ControlLine, ...]
    data: tuple[Connection, ...]  # data connections that were tried

    def received(self, code: str) -> bool:
        return any(l.dir == "recv" and l.line.startswith(code) for l in self.lines)

    @property
    def data_failed(self) -> bool:
        return bool(self.data) and self.data[-1].result != "ok"

    @property
    def after_data(self) -> bool:
        """A data connection was negotiated and tried before the failure."""
        return bool(self.data) and any(l.dir == "recv" and l.line[:3] in ("227", "229", "200")
                                       and "PORT" not in l.line for l in self.lines)

    @property
    def reply(self) -> str:
        return self.failure.reply or ""


Rule = Callable[[Facts], Optional[Placed]]


def _same(stage: str, kind: str) -> Placed:
    return Placed(stage, stage, kind)


def _hung(x: Facts) -> Placed | None:
    if x.failure.exit == "hung":
        return Placed(x.failure.command or "transfer", "transfer", "timeout")
    return None


def _never_greeted(x: Facts) -> Placed | None:
    if x.received("220"):
        return None
    tls = tls_mode(x.tls).implicit and x.failure.exit == "tls"
    return Placed("connect", "tls-handshake" if tls else "connect", x.failure.kind)


def _data_connect_failed(x: Facts) -> Placed | None:
    if x.data_failed or x.failure.exit == "unreached" and x.data:
        return _same("data-connect", x.data[-1].result or x.failure.kind if x.data else x.failure.kind)
    return None


def _tls(x: Facts) -> Placed | None:
    if x.failure.exit == "tls":
        return _same("data-tls" if x.after_data else "tls-handshake", "tls-error")
    if x.failure.exit == "tls-unsure" and not x.received("230"):
        return _same("tls-handshake", "tls-error")
    return None


def _not_logged_in(x: Facts) -> Placed | None:
    if x.failure.exit in (None, "tls-unsure") and not x.received("230"):
        return _same("login", "reply")
    return None


def _data_tls_refused(x: Facts) -> Placed | None:
    if x.reply.startswith("522") or x.failure.exit in (None, "tls-unsure") and "reuse" in x.reply.lower():
        return _same("data-tls", "reply")
    return None


def _exit_status(x: Facts) -> Placed | None:
    e = x.failure.exit
    if e in EXIT_STAGE:
        return _same(EXIT_STAGE[e], "reply" if e == "login" else x.failure.kind)
    if e == "unreached":  # no data connection was tried: the control connection's login failed
        return _same("login", x.failure.kind)
    if e == "other":
        return Placed(x.failure.command or "transfer", "transfer", x.failure.kind)
    return None


def _reply_stage(reply: str) -> str:
    """The stage a refused transfer command stopped at: 425/426 mean the data connection itself
    failed, 522 its TLS; other codes, the command did."""
    return {"425": "data-connect", "426": "data-connect", "522": "data-tls"}.get(reply[:3], "data-setup")


def _reply_code(x: Facts) -> Placed | None:
    code = x.reply[:3]
    if code in ("425", "426") or "foreign" in x.reply.lower():
        return _same("data-connect", "reply")
    if code in ("500", "501", "502", "504"):
        return _same("data-setup", "reply")
    return None


RULES: list[Rule] = [_hung, _never_greeted, _data_connect_failed, _tls, _not_logged_in,
                     _data_tls_refused, _exit_status, _reply_code]


def _lost_control(report: ClientReport) -> Connection | None:
    """The latest control connection, if it was tried and never connected (a later session's
    control connection has no transcript lines, so the last transcript belongs to an earlier one)."""
    ctl = [c for c in report.control if c.result is not None]
    if ctl and ctl[-1].result in ("timeout", "refused", "unreachable") and \
            not any(l.session == ctl[-1].session for l in report.transcript):
        return ctl[-1]
    return None


def _completed_unanswered(report: ClientReport) -> bool:
    """The last data connection moved all its data (the client says so; the server had said
    1xx), but the reply that closes the transfer never came: the `completion` stage."""
    tried = [c for c in report.data if c.result is not None]
    if not tried:
        return False
    c = tried[-1]
    return (c.result == "ok" and c.done is True and c.transfer is None and (c.preliminary or "")[:1] == "1"
            and c.final is None and report.failure is not None and report.failure.kind != "reply")


def place(report: ClientReport, tls: str) -> Placed:
    """(step, stage, kind) of a failed session."""
    f = report.failure
    assert f is not None, "place() needs a failed report"
    if f.step in ("transfer", None) and _completed_unanswered(report):
        return Placed("transfer", "completion", f.kind)
    if f.step == "transfer-start":  # the server refused the transfer command: its reply says why
        return _same(_reply_stage(f.reply or ""), f.kind)
    if f.step:  # the client knows its step exactly
        return Placed(f.step, STEP_STAGE.get(f.step, "transfer"), f.kind)
    lost = _lost_control(report)
    if lost is not None:  # a control connection that never connected: the session stopped there
        return _same("connect", lost.result or f.kind)
    last = max((l.session for l in report.transcript), default=0)
    facts = Facts(f, tls, tuple(l for l in report.transcript if l.session == last),
                  tuple(c for c in report.data if c.session == last and c.result is not None))
    for rule in RULES:
        placed = rule(facts)
        if placed is not None:
            return placed
    return _same("transfer", f.kind)
