"""A connection that never came up: the control connection, an active-mode data connection,
or either one through a path whose two directions cross different stateful firewalls."""

from __future__ import annotations

from harness.core.tls import CONTROL_PORTS
from harness.judge.checks import check
from harness.judge.evidence import Evidence, last_data, rejections, what
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation


@check("asymmetric-route", 110)
def asymmetric_route(obs: Observation, ev: Evidence) -> Verdict | None:
    """The two directions of a connection crossed different stateful firewalls."""
    f, d = ev.failure, last_data(obs)
    dropped = ev.firewall_dropped_invalid
    if f is None:
        return None
    if f.stage == "connect" and f.kind == "timeout" and dropped:
        via = [
            box
            for box, view in obs.middleboxes.items()
            if any(x.dport in CONTROL_PORTS for x in view.parsed_flows(box))
        ]
        text = (
            f"The control connection to {obs.topology.server_public}:{obs.case.server.control_port} "
            f"timed out. It came in through {', '.join(via) or 'one firewall'}, but the server "
            f"answered by another route: "
            f"{', '.join(f'{b} dropped {n} packet(s) of a connection it never saw' for b, n in dropped.items())}. "
            f"Both directions of a connection must cross the same stateful firewall: route "
            f"replies back out of the interface they arrived on (source-based routing)."
        )
        return Verdict("fail", "connect", text, ev)
    if f.stage != "data-connect" or d.result != "timeout" or not dropped:
        return None
    entered = [
        box
        for box, view in obs.middleboxes.items()
        if any(x.dport == d.advertised_port for x in view.parsed_flows(box))
    ]
    control_via = [
        box for box, view in obs.middleboxes.items() if any(x.dport in CONTROL_PORTS for x in view.parsed_flows(box))
    ]
    adv = d.advertised_ip or (d.target.host if d.target else "")
    owner = obs.topology.owner_of(adv)
    text = (
        f"The server advertised {adv}:{d.advertised_port}"
        f"{f' ({owner}' + chr(39) + 's public address)' if owner else ''}, but the control connection came in "
        f"through {', '.join(control_via) or 'another firewall'}. The data connection entered "
        f"through {', '.join(entered) or '?'}, and the server's answer left by its other "
        f"route: {', '.join(f'{b} dropped {n} packet(s) of a connection it never saw' for b, n in dropped.items())}. "
        f"The client's connection to {d.target} timed out. Both directions of a connection "
        f"must cross the same stateful firewall: advertise the address of the interface the "
        f"control connection came in on, or route replies back out of the interface they "
        f"arrived on."
    )
    return Verdict("fail", "data-connect", text, ev)


@check("active-connect-failed", 210)
def active_connect_failed(obs: Observation, ev: Evidence) -> Verdict | None:
    """The server could not open the active-mode data connection."""
    f = ev.failure
    d = last_data(obs)
    if f is None:
        return None
    # the server's own words: its reply, else a 425 the transcript holds (lftp retries and
    # reports only "max-retries exceeded")
    reply = f.said or next((x[2:] for x in reversed(ev.transcript) if x.startswith("< 425")), "")
    if d.mode not in ("port", "eprt") or (f.stage != "data-connect" and reply[:3] != "425"):
        return None
    text = (
        f"The server could not open the active-mode data connection to "
        f"{d.listen or 'the client'}: {reply or f.error}{rejections(ev)}."
    )
    return Verdict("fail", "data-connect", text, ev)


@check("control-connect-failed", 300)
def control_connect_failed(obs: Observation, ev: Evidence) -> Verdict | None:
    """The control connection never came up."""
    f = ev.failure
    if f is None or f.step != "connect":
        return None
    host, port = obs.topology.server_public, obs.case.server.control_port
    text = (
        f"The control connection to {host}:{port} {what(f.kind)}{rejections(ev)}: "
        f"nothing reachable listens on the FTP{'S' if port == 990 else ''} control port along "
        f"this path ({f.error})."
    )
    return Verdict("fail", "connect", text, ev)
