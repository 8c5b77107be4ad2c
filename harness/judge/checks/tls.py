"""TLS failures: a server that requires session reuse, and other handshake failures."""
from __future__ import annotations

import clients
import servers

from dataclasses import replace

from harness.judge.checks import check
from harness.judge.evidence import Evidence, last_data, server_pattern, server_says
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation


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
    text = (f"The server requires each data connection's TLS session to resume the control "
            f"connection's session, and this client did not resume it"
            f"{' (session_reused: false on the data connection)' if d.session_reused is False else ''}. "
            f"The server said: '{said or logs[-1]}'. Use a client that reuses TLS sessions "
            f"(here: {', '.join(clients.reusing_sessions())}) or turn the requirement off "
            f"on the server ({servers.setting_names('reuse-off')}).")
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
