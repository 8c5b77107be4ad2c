"""A passive data connection the path does not let through: a port outside the server's
range, a range the firewall does not forward, or a port unreachable for another reason."""

from __future__ import annotations

from dataclasses import replace

from harness.core.ports import PassiveRange
from harness.judge.checks import check
from harness.judge.evidence import Evidence, last_data, rejections, server_says, what
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation


def _forwarded(obs: Observation) -> dict[str, PassiveRange | None]:
    """The passive range each firewall on the path opens (None: no passive range at all)."""
    out: dict[str, PassiveRange | None] = {}
    for box in obs.topology.middleboxes:
        if box.ruleset and box.ruleset.forwards is not None:
            out[box.name] = PassiveRange.parse(box.ruleset.forwards) if box.ruleset.forwards else None
    return out


@check("passive-port-outside-range", 160)
def passive_port_outside_range(obs: Observation, ev: Evidence) -> Verdict | None:
    """The server advertised a port outside its own passive range (the range ran out)."""
    f, d = ev.failure, last_data(obs)
    port, rng = d.advertised_port, obs.case.server.passive
    if f is None or f.stage != "data-connect" or port is None or port in rng or d.result == "ok":
        return None
    busy = obs.case.client.busy
    why = (
        f" All {rng.last - rng.first + 1} ports of that range were taken ({busy} other "
        f"session{'s' if busy != 1 else ''} held passive ports), so the server fell back to a "
        "port outside it."
        if busy
        else ""
    )
    fallback = server_says(obs, "passive-fallback")
    if fallback:
        ev = replace(ev, server_log_fallback=fallback[-1])
        why += f" The server logged: '{fallback[-1].rstrip('.')}'."
    text = (
        f"The server advertised port {port}, outside its configured passive range {rng}.{why} "
        f"No firewall opens port {port}: the client's connection to {d.target} "
        f"{what(d.result)}{rejections(ev)}."
    )
    return Verdict("fail", "data-connect", text, ev)


@check("passive-range-not-forwarded", 170)
def passive_range_not_forwarded(obs: Observation, ev: Evidence) -> Verdict | None:
    """A firewall on the path forwards another passive range, or none."""
    f, d = ev.failure, last_data(obs)
    port = d.advertised_port
    closed = {box: r for box, r in _forwarded(obs).items() if port is not None and (r is None or port not in r)}
    if f is None or f.stage != "data-connect" or not closed or d.result == "ok":
        return None
    if any(r is None for r in closed.values()):
        where = ", ".join(f"{box} forwards no passive ports at all" for box, r in closed.items() if r is None)
        text = (
            f"The server advertised port {port} from its passive range {obs.case.server.passive}, "
            f"but {where} (only the control port). The client's connection to {d.target} "
            f"{what(d.result)}{rejections(ev)}. Forward the server's passive range "
            f"{obs.case.server.passive} to the server, and allow it."
        )
        return Verdict("fail", "data-connect", text, ev)
    where = ", ".join(f"{box} forwards/allows only {r}" for box, r in closed.items())
    text = (
        f"The server advertised port {port} from its passive range {obs.case.server.passive}, "
        f"but {where}: the ranges differ. The client's connection to {d.target} "
        f"{what(d.result)}{rejections(ev)}. Make the firewall's range and the "
        f"server's passive range the same."
    )
    return Verdict("fail", "data-connect", text, ev)


@check("data-port-unreachable", 200)
def data_port_unreachable(obs: Observation, ev: Evidence) -> Verdict | None:
    """The passive port is not reachable through the path, for no reason seen more precisely."""
    f = ev.failure
    d = last_data(obs)
    if f is None or f.stage != "data-connect" or d.result in (None, "ok") or d.target is None:
        return None
    reply = (d.reply or "")[:3]
    said = {"229": "229 reply to EPSV", "227": "227 reply to PASV"}
    src = said.get(reply) or (f"reply to {d.mode.upper()}" if d.mode else "server's reply")
    text = (
        f"The client connected to {d.target} (port from the {src}) and the connection "
        f"{what(d.result)}{rejections(ev)}: the passive port is not reachable "
        f"through the path to the server."
    )
    return Verdict("fail", "data-connect", text, ev)
