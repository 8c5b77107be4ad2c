"""TLS failures: a server that requires session reuse, and other handshake failures."""
from __future__ import annotations

import clients
import servers

from harness.judge.verdict import Verdict
from harness.observe.observation import Observation
from harness.judge.evidence import Evidence, last_data, server_pattern, server_says


def session_reuse_required(obs: Observation, ev: Evidence) -> Verdict | None:
    f, d = ev["failure"], last_data(obs)
    said = f.get("reply") or f.get("late_reply") or d.late_reply or ""
    logs = server_says(obs, "reuse-required-log")
    if not server_pattern(obs, "reuse-required").search(said) and not logs:
        return None
    if f["stage"] not in ("data-tls", "transfer", "data-connect"):
        return None
    text = (f"The server requires each data connection's TLS session to resume the control "
            f"connection's session, and this client did not resume it"
            f"{' (session_reused: false on the data connection)' if d.session_reused is False else ''}. "
            f"The server said: '{said or logs[-1]}'. Use a client that reuses TLS sessions "
            f"(here: {', '.join(clients.reusing_sessions())}) or turn the requirement off "
            f"on the server ({servers.setting_names('reuse-off')}).")
    ev["session_reuse_required"] = True
    return Verdict("fail", "data-tls", text, ev)


def tls_failed(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    if f["stage"] not in ("tls-handshake", "data-tls"):
        return None
    where = "control" if f["stage"] == "tls-handshake" else "data"
    said = f.get("reply") or f.get("late_reply")
    text = f"The TLS handshake on the {where} connection failed: {f['error']}."
    if said:
        text += f" The server said: '{said}'."
    return Verdict("fail", f["stage"], text, ev)
