"""The path itself breaks the session: a firewall that forgot the idle control connection
(conntrack DESTROY + its drop counter), or a PMTU black hole (the firewall's ICMP drop
counter counted "fragmentation needed" while full-size data stalled). docs/path.md."""
from __future__ import annotations

import re

from ..model import Verdict
from ..observation import Observation
from .gather import Evidence, last_data

# conntrack -E prints: [DESTROY] tcp 6 src=A dst=B sport=P dport=21 ... (one direction, then the reply's)
_DPORT = re.compile(r"\bdport=(\d+)\b")


def _counted(obs: Observation, name: str) -> dict[str, int]:
    return {box: dict(v.counters).get(name, 0) for box, v in obs.middleboxes.items()
            if dict(v.counters).get(name, 0)}


def _control_destroyed(obs: Observation) -> dict[str, list[str]]:
    port = str(obs.case.server.control_port)
    out = {box: [e for e in v.destroyed if (m := _DPORT.search(e)) and m.group(1) == port]
           for box, v in obs.middleboxes.items()}
    return {box: lines for box, lines in out.items() if lines}


def control_idle_timeout(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    gone, dropped = _control_destroyed(obs), _counted(obs, "forgotten")
    if f is None or f["stage"] != "completion" or not gone:
        return None
    box, lines = next(iter(gone.items()))
    ev["conntrack_destroyed"] = {b: l[-2:] for b, l in gone.items()}
    if dropped:
        ev["firewall_dropped_forgotten"] = dropped
    d = last_data(obs)
    what_moved = f"the {d.cmd} data connection finished" if d.cmd else "the data moved"
    dropped_text = (f" {box} then dropped {dropped[box]} packet{'s' if dropped[box] != 1 else ''} of it "
                    "as mid-stream packets of a connection it no longer knew (counter 'forgotten')."
                    if box in dropped else "")
    text = (f"The control connection sat idle while {what_moved}, and {box} forgot it: conntrack "
            f"destroyed its entry during the transfer ('{lines[-1][:160]}').{dropped_text} The "
            f"reply that ends the transfer never reached the client ({f['kind']}). Raise the "
            f"firewall's idle timeout for the control port above the longest transfer, or have "
            f"the client send keepalives on the control connection.")
    return Verdict("fail", "completion", text, ev)


def pmtu_black_hole(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    dropped = _counted(obs, "icmp_dropped")
    if f is None or f["stage"] not in ("transfer", "completion", "data-tls", "tls-handshake") or not dropped:
        return None
    ev["firewall_dropped_icmp"] = dropped
    box, n = next(iter(dropped.items()))
    d = last_data(obs)
    stalled = f"the {d.cmd} data connection" if d.cmd and f["stage"] != "tls-handshake" else "the session"
    text = (f"Small packets passed (the control channel worked) but {stalled} stalled "
            f"({f['kind']}): its full-size packets did not fit the path's MTU, and {box} dropped "
            f"{n} ICMP 'fragmentation needed' message{'s' if n != 1 else ''} telling the sender to "
            f"send smaller ones (counter 'icmp_dropped'). A path-MTU black hole: allow ICMP "
            f"fragmentation-needed / packet-too-big through the firewall, or clamp the TCP MSS "
            f"to the path's MTU on it.")
    return Verdict("fail", f["stage"], text, ev)
