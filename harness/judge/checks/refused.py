"""The server ended the session before login with a reply of its own: a 421 or 5xx at its
greeting, or a 421 to AUTH, USER or PASS. The reply is the reason, and the check quotes it. When
the server's adapter declares that wording as its refusal of one of its own settings
(ServerAdapter.says["refuses:<knob>"]), the check names the setting and the value the case
gave it. It never consults a table of expected results."""

from __future__ import annotations

import re

import servers
from harness.core import family
from harness.judge.checks import check
from harness.judge.evidence import Evidence
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation

_REFUSAL = re.compile(r"^(421|5\d\d) ")
_BEFORE_LOGIN = ("connect", "tls", "login")


def _refusal(obs: Observation, ev: Evidence) -> str | None:
    """The final line of the reply that ended the session, if it is a refusal."""
    f = ev.failure
    assert f is not None and obs.client is not None
    got = [t.line for t in obs.client.transcript if t.dir == "recv"]
    for text in (f.reply, got[-1] if got else None):
        line = text.strip().splitlines()[-1] if text and text.strip() else ""
        # a 530 to USER or PASS is a refused login, not a refused session (login-refused)
        if _REFUSAL.match(line) and (line.startswith("421") or f.stage == "connect"):
            return line
    return None


def _setting(obs: Observation, reply: str, label: str) -> str:
    """What the reply says of one of the server's settings, as its adapter declares."""
    adapter = servers.get(obs.case.server.impl)
    for key, pattern in adapter.says.items():
        knob = key.removeprefix("refuses:")
        if knob == key or knob not in adapter.settings or not pattern.search(reply):
            continue
        setting = adapter.settings[knob]
        if knob != "masquerade" or not obs.case.server.masquerade:
            return f" These are {label}'s words for a value of its setting {setting} it cannot use."
        value = obs.topology.masquerade_address or obs.topology.server_public
        text = (
            f" These are {label}'s words for a value of {setting}, the setting that makes it "
            f"advertise another address (masquerade), set here to {value}."
        )
        if family.of(value).version == 6:
            text += (
                f" That is an IPv6 address, which a 227 reply cannot carry (it carries four decimal "
                f"bytes). The reply came before any command, so no data mode (EPSV included) could "
                f"have helped this session. Not tried by a re-run of this case: {setting} set to the "
                f"server's public IPv4 address, or unset, on a {label} that serves IPv6."
            )
        return text
    return f" Look in {label}'s configuration and its log for what the reply names."


@check("session-refused", 287)
def session_refused(obs: Observation, ev: Evidence) -> Verdict | None:
    """The server refused the session before login, in a reply: quoted, and read."""
    f = ev.failure
    if f is None or obs.client is None or f.stage not in _BEFORE_LOGIN:
        return None
    reply = _refusal(obs, ev)
    if reply is None:
        return None
    adapter = servers.get(obs.case.server.impl)
    label = adapter.label or adapter.name
    sent = [t.line for t in obs.client.transcript if t.dir == "sent"]
    when = f"after '{sent[-1].split(' ', 1)[0]}'" if sent else "at its greeting, before the client sent any command"
    told = "" if reply in f.error else f" {obs.case.client.impl} reported only: {f.error}."
    text = (
        f"{label} refused the session {when}: '{reply}'. The control connection worked; the "
        f"server ended the session in its own words, so no data mode was tried.{told}" + _setting(obs, reply, label)
    )
    return Verdict("fail", f.stage, text, ev)
