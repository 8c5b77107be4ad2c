"""TLS in the field: a server that requires session reuse, resumption lost across transfers,
CCC, data connections closed without close_notify, and other handshake failures."""

from __future__ import annotations

from dataclasses import replace

import clients
import servers
from harness.judge.checks import check
from harness.judge.checks.generic import passed
from harness.judge.evidence import (
    Ccc,
    Evidence,
    Resumption,
    Truncation,
    helper_boxes,
    last_data,
    rewrites,
    server_pattern,
    server_says,
)
from harness.judge.verdict import Verdict
from harness.observe.observation import Connection, Observation


@check("session-reuse-required", 280)
def session_reuse_required(obs: Observation, ev: Evidence) -> Verdict | None:
    """The server requires the data connection to resume the control connection's TLS session."""
    f, d = ev.failure, last_data(obs)
    if f is None:
        return None
    said = f.said or d.late_reply or ""
    logs = server_says(obs, "reuse-required-log")
    if not server_pattern(obs, "reuse-required").search(said) and not logs:
        return None
    if f.stage not in ("data-tls", "transfer", "data-connect"):
        return None
    text = (
        f"The server requires each data connection's TLS session to resume the control "
        f"connection's session, and this client did not resume it"
        f"{' (session_reused: false on the data connection)' if d.session_reused is False else ''}. "
        f"The server said: '{said or logs[-1]}'. Use a client that reuses TLS sessions "
        f"(here: {', '.join(clients.reusing_sessions())}) or turn the requirement off "
        f"on the server ({servers.setting_names('reuse-off')})."
    )
    return Verdict("fail", "data-tls", text, replace(ev, session_reuse_required=True))


@check("tls-failed", 290)
def tls_failed(obs: Observation, ev: Evidence) -> Verdict | None:
    """A TLS handshake failed, on the control or a data connection."""
    f = ev.failure
    if f is None or f.stage not in ("tls-handshake", "data-tls"):
        return None
    where = "control" if f.stage == "tls-handshake" else "data"
    text = f"The TLS handshake on the {where} connection failed: {f.error}."
    if f.said:
        text += f" The server said: '{f.said}'."
    return Verdict("fail", f.stage, text, ev)


def _ccc_reply(obs: Observation) -> str | None:
    """The reply to the client's CCC, if it sent one (the first session that did)."""
    t = [x for x in obs.client.transcript if x.line] if obs.client else []
    for i, x in enumerate(t):
        if x.dir == "sent" and x.line.strip().upper() == "CCC":
            return next((y.line for y in t[i + 1 :] if y.dir == "recv"), "")
    return None


@check("ccc-refused", 30)
def ccc_refused(obs: Observation, ev: Evidence) -> Verdict | None:
    """The server refused CCC: the control channel stayed encrypted. Some clients go on
    regardless (then the case can still pass on a path without an FTP helper)."""
    reply = _ccc_reply(obs)
    if not obs.case.server.mode.clears_control or reply is None or reply[:1] not in "45" or not obs.client:
        return None
    setting = servers.get(obs.case.server.impl).settings.get("ccc")
    ev = replace(ev, ccc=Ccc(reply, control_encrypted=True))
    text = (
        f"The server refused CCC: '{reply}'. The control channel stayed encrypted after the "
        f"login, so an FTP helper on the path still cannot read PASV/PORT. "
        + (f"This server allows it with {setting}." if setting else "This server has no setting for CCC here.")
    )
    f = ev.failure
    if obs.client.ok or f is None:
        return Verdict(
            "pass",
            None,
            text + " The client carried on with the control channel encrypted, and the session passed.",
            ev,
        )
    if f.step != "ccc":
        text += f" Later the session failed at {f.step}: {f.error}."
    return Verdict("fail", f.stage, text, ev)


@check("ccc-dropped-control", 250)
def ccc_dropped_control(obs: Observation, ev: Evidence) -> Verdict | None:
    """The server accepted CCC, and the control connection ended right after it."""
    reply = _ccc_reply(obs)
    if not obs.client or obs.client.ok or not reply or reply[:1] != "2" or ev.failure is None:
        return None
    lines = [x for x in obs.client.transcript if x.line]
    if not lines or lines[-1].line != reply:
        return None
    ev = replace(ev, ccc=Ccc(reply, control_encrypted=False))
    assert ev.failure is not None  # checked above; replace() keeps it
    raw = "\n".join(obs.client.raw_output)
    after = raw[raw.find(reply) + len(reply) :] if reply in raw else ""
    said = next((l.strip("* ").strip() for l in after.splitlines() if l.startswith("*")), None)
    return Verdict(
        "fail",
        "login",
        (
            f"The server accepted CCC ('{reply}'), and the client sent nothing more: the control "
            f"connection ended while both ends were clearing TLS"
            + (f"; the client said '{said}'" if said else "")
            + f" ({ev.failure.error})."
        ),
        ev,
    )


@check("helper-reads-after-ccc", 40)
def helper_reads_after_ccc(obs: Observation, ev: Evidence) -> Verdict | None:
    """A pass because CCC let the FTP helper rewrite PASV/PORT again (shown pass*)."""
    acted = ev.tampered or any(ev.helper_expectations.values())
    if not (
        obs.client
        and obs.client.ok
        and obs.case.server.mode.clears_control
        and acted
        and helper_boxes(obs)
        and (_ccc_reply(obs) or "")[:1] == "2"
    ):
        return None
    v = passed(obs, ev)
    assert v is not None
    how = (
        f"rewrote {rewrites(ev)}"
        if ev.tampered
        else "read the data connection lines and opened pinholes for them (conntrack expectations; "
        "this server logs no control lines to compare)"
    )
    return replace(
        v,
        diagnosis=(
            f"Passed through the FTP helper thanks to CCC: after the login the control "
            f"channel was in clear, so {', '.join(helper_boxes(obs))} {how}. The data "
            f"stayed PROT P. Cost: every command after the login (file names, PASV/PORT, "
            f"DELE) crossed the network in clear. " + v.diagnosis
        ),
    )


def _resumed(d: Connection) -> str:
    return {True: "resumed", False: "not resumed", None: "unknown"}[d.session_reused]


@check("tls-session-not-resumed", 270)
def tls_session_not_resumed(obs: Observation, ev: Evidence) -> Verdict | None:
    """A data connection refused because it did not resume the control connection's TLS
    session: after earlier ones in the same session did resume (resumption lost across
    transfers), or without the server naming reuse (then session-reuse-required cannot)."""
    f, d = ev.failure, last_data(obs)
    if f is None or obs.client is None or f.stage not in ("data-tls", "transfer", "data-connect"):
        return None
    said = f.said or d.late_reply or ""
    refused_log = server_says(obs, "reuse-required-log")
    earlier = [x for x in obs.client.data[:-1] if x.tls == "ok"]
    resumed_log = server_says(obs, "session-resumed-log")
    lost = any(x.session_reused for x in earlier) or (resumed_log and refused_log)
    if not lost:
        if server_pattern(obs, "reuse-required").search(said) or refused_log:
            return None  # session-reuse-required words it
        if f.stage != "data-tls" or d.session_reused is not False or not said or said[0] not in "45":
            return None
    history = ", ".join(f"{x.cmd} {_resumed(x)}" for x in earlier if x.session_reused is not None)
    text = (
        f"The server refused a data connection that did not resume the control "
        f"connection's TLS session: '{refused_log[-1] if refused_log else said}'."
    )
    if lost:
        text += (
            " Earlier data connections of the same control session did resume it"
            + (f" (client: {history})" if history else f" (server: '{resumed_log[0]}')")
            + ". Resumption was lost between transfers: under TLS 1.3 a client resumes "
            "from a session ticket, and a client that does not keep the control "
            "connection's session for every data connection fails on a later transfer."
        )
    ev = replace(
        ev,
        resumption=Resumption(
            tuple(_resumed(x) for x in [*earlier, d]), tuple(resumed_log[-3:]), tuple(refused_log[-2:])
        ),
    )
    return Verdict("fail", "data-tls", text, ev)


@check("data-tls-truncated", 260)
def data_tls_truncated(obs: Observation, ev: Evidence) -> Verdict | None:
    """A data connection closed without close_notify, a short file, or 426."""
    f = ev.failure
    if f is None or obs.client is None:
        return None
    said = f.said
    logged = server_says(obs, "unclean-tls-end-log")
    for d in obs.client.data:
        short = d.sent_bytes is not None and d.arrived_bytes is not None and d.arrived_bytes < d.sent_bytes
        unclean = d.close_notify_sent is False or d.close_notify_received is False
        # a client that does not report close_notify (curl, lftp): the server's 426 and its log say it
        unknown = d.close_notify_sent is None and d.close_notify_received is None
        server_saw = unknown and bool(logged) and said[:3] == "426" and d.final == said
        if not (short or server_saw or (unclean and (said[:3] == "426" or f.stage in ("transfer", "integrity")))):
            continue
        who = (
            "the client closed without close_notify"
            if d.close_notify_sent is False
            else "the server closed without close_notify"
            if d.close_notify_received is False
            else "the server saw no TLS shutdown from the client (the client does not report its close_notify)"
            if server_saw
            else "neither side's close_notify is known"
        )
        size = (
            ""
            if d.sent_bytes is None or d.arrived_bytes is None
            else f"; all {d.sent_bytes} bytes arrived"
            if not short
            else f"; only {d.arrived_bytes} of {d.sent_bytes} bytes arrived, yet the server replied '{d.final}'"
            if d.final and d.final[:1] == "2"
            else f"; only {d.arrived_bytes} of {d.sent_bytes} bytes arrived"
        )
        ev = replace(
            ev,
            truncated=Truncation(
                d.cmd, d.close_notify_sent, d.close_notify_received, d.sent_bytes, d.arrived_bytes, tuple(logged[-2:])
            ),
        )
        text = (
            f"The {d.cmd} data connection ended without a clean TLS shutdown: {who}{size}."
            + (f" The server said: '{said}'." if said else "")
            + (f" Its log: '{logged[-1]}'." if logged else "")
            + " A receiver cannot tell such an end from a cut connection, so strict servers "
            "refuse the file (426) or keep a short one."
        )
        return Verdict("fail", f.stage, text, ev)
    return None
