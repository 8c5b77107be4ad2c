"""The first and last checks: the harness broke, the case passed, or nothing more precise fits."""

from __future__ import annotations

import itertools
from dataclasses import replace

import servers
from harness.judge.checks import LAST, address_families, check
from harness.judge.evidence import Evidence, helper_boxes, last_data, rejections, rewrites, server_says
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation


@check("harness-error", 10)
def harness_error(obs: Observation, ev: Evidence) -> Verdict | None:
    """The harness itself broke: never a network verdict."""
    if obs.harness_error:
        return Verdict("error", None, f"harness error: {obs.harness_error}", ev)
    if obs.client is None:
        return Verdict("error", None, "harness error: the client produced no report", ev)
    return None


@check("passed", 50)
def passed(obs: Observation, ev: Evidence) -> Verdict | None:
    """The session passed; what helped it (a helper's rewrite, a fallback) is said."""
    if not obs.client or not obs.client.ok:
        return None
    notes = ["Upload, listing, download and SHA-256 compare all passed."]
    if ev.tampered:
        boxes = ", ".join(helper_boxes(obs)) or "a middlebox"
        notes.append(f"The FTP helper on {boxes} rewrote control lines in transit: {rewrites(ev)}.")
        n = sum(1 for evs in ev.helper_expectations.values() for e in evs if e.startswith("[NEW]"))
        if n:
            notes.append(f"It opened {n} data-connection pinhole{'s' if n > 1 else ''} (conntrack expectations).")
    d = last_data(obs)
    if d.advertised_ip and (d.target.host if d.target else "") != d.advertised_ip:
        notes.append(
            f"The server advertised {d.advertised_ip}:{d.advertised_port}, which the "
            f"client ignored (policy 'control'): it connected to {d.target} instead."
        )
    switched = _active_fallbacks(obs)
    if switched and obs.case.client.mode in ("port", "eprt"):
        ev = replace(ev, fell_back_to_passive=switched)
        notes.append(
            f"Not in active mode, though: the server refused the {obs.case.client.mode.upper()} "
            f"address and the client switched to passive mode ({switched} time(s)), which worked."
        )
    retried = _epsv_fallbacks(obs)
    if retried:
        lb = ev.balancer
        landed = [c.backend for c in lb.data] if lb else []
        notes.append(
            f"The client retried: {retried} time(s) its EPSV data connection failed and it "
            "fell back to PASV, which worked"
            + (
                f" (the balancer sent the data connections to {', '.join(landed)}; the control "
                f"connection was on {lb.control if lb else None})"
                if landed
                else ""
            )
            + "."
        )
    foreign = server_says(obs, "foreign-address")
    if foreign:
        setting = servers.get(obs.case.server.impl).settings.get("permit-foreign", "")
        ev = replace(
            ev,
            security_weakened="the server accepts data connections from any address"
            + (f" ({setting})" if setting else ""),
        )
        notes.append(
            f"SECURITY WEAKENED: it passed only because the server accepts data connections "
            f"from foreign addresses; the server logged '{foreign[-1].rstrip('.')}'. Anyone "
            "who guesses the port can take the transfer."
        )
    unfiltered, more = address_families.unfiltered(obs)
    notes += more
    ev = replace(ev, unfiltered=unfiltered) if unfiltered else ev
    lb = ev.balancer
    if lb and lb.data:
        notes.append(
            f"Control and data all reached backend {lb.control}."
            if all(c.backend == lb.control for c in lb.data)
            else ""
        )
    return Verdict("pass", None, " ".join(n for n in notes if n), ev)


def _epsv_fallbacks(obs: Observation) -> int:
    assert obs.client is not None
    sent = [t.line.split()[0].upper() for t in obs.client.transcript if t.dir == "sent" and t.line]
    return sum(1 for a, b in itertools.pairwise(sent) if a == "EPSV" and b == "PASV")


def _active_fallbacks(obs: Observation) -> int:
    """How often the client, refused an active-mode address, switched to passive mode."""
    assert obs.client is not None
    t = [x for x in obs.client.transcript if x.line]
    n = 0
    for i, x in enumerate(t[:-2]):
        if (
            x.dir == "sent"
            and x.line[:4].upper() in ("PORT", "EPRT")
            and t[i + 1].dir == "recv"
            and t[i + 1].line[:1] in "45"
            and any(y.dir == "sent" and y.line[:4].upper() in ("PASV", "EPSV") for y in t[i + 2 : i + 40])
        ):
            n += 1
    return n


@check("other-failure", LAST)
def other_failure(obs: Observation, ev: Evidence) -> Verdict | None:
    """Nothing more precise fits: the failure as the client reported it."""
    f = ev.failure
    if f is None:
        return Verdict("fail", "transfer", "The client failed without saying where.", ev)
    said = f.said
    text = f"Failed at {f.step}: {f.error}{rejections(ev)}."
    if said and said not in f.error:
        text += f" The server said: '{said}'."
    return Verdict("fail", f.stage, text, ev)
