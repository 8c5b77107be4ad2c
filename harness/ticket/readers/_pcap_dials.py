"""Connection attempts in a capture: each SYN of a control or data connection and what
answered it (SYN-ACK: ok, RST: refused, ICMP unreachable, nothing: timeout), and the RST that
later ends an established one (reset).

A SYN is a data connection's when it goes where a 227/229/PORT/EPRT said, or when one end is
an end of a control connection open at the time (without a key log the 227 is not readable,
and the client may dial an address no reply shows). A RST after its sender's own FIN is how a
socket closes with unread data, not a reset, and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.core import family
from harness.ticket.log import Connection, Dial, Event, Kind, Result, Where
from harness.ticket.readers._pcap_control import Control, Target, endpoint
from harness.ticket.readers._tshark import Frame

Key = tuple[str, int, str, int]  # src, sport, dst, dport
_ICMP4 = {
    0: "network unreachable",
    1: "host unreachable",
    2: "protocol unreachable",
    3: "port unreachable",
    4: "fragmentation needed",
    9: "network administratively prohibited",
    10: "host administratively prohibited",
    13: "communication administratively prohibited",
}
_ICMP6 = {
    0: "no route to destination",
    1: "communication administratively prohibited",
    2: "beyond scope of source address",
    3: "address unreachable",
    4: "port unreachable",
    5: "source address failed ingress/egress policy",
    6: "reject route to destination",
}
_QUIET = 1.0  # seconds of capture after a lone SYN before its silence counts as a timeout


@dataclass
class _Attempt:
    syn: Frame
    conn: Connection
    retransmissions: int = 0


def _key(f: Frame) -> Key:
    return (f.src, f.sport, f.dst, f.dport)


def _conn(f: Frame, controls: dict[int, Control], targets: list[Target]) -> Connection | None:
    if f.stream in controls:
        return "control"
    for t in targets:
        if t.packet < f.number and t.port == f.dport and family.same_address(t.host, f.dst):
            return "data"
    for c in controls.values():
        if c.first <= f.number <= c.last and {f.src, f.dst} & {c.client[0], c.server[0]}:
            return "data"
    return None


def dials(
    frames: list[Frame], controls: dict[int, Control], targets: list[Target], file: str
) -> tuple[list[Event], dict[int, Connection]]:
    """The dial events, and which TCP streams are control and data connections."""
    by_key: dict[Key, list[Frame]] = {}
    icmp: dict[Key, list[Frame]] = {}
    attempts: dict[tuple[Key, int], _Attempt] = {}
    for f in frames:
        (icmp if f.icmp else by_key).setdefault(_key(f), []).append(f)
        if f.syn:
            if (a := attempts.get((_key(f), f.seq))) is not None:
                a.retransmissions += 1
            elif (conn := _conn(f, controls, targets)) is not None:
                attempts[(_key(f), f.seq)] = _Attempt(f, conn)
    end = max((f.t for f in frames), default=0.0)
    events: list[Event] = []
    kinds: dict[int, Connection] = {c.stream: "control" for c in controls.values()}
    established: dict[int, tuple[Frame, Connection, str, int]] = {}  # stream: (answer, conn, host, port)
    for a in attempts.values():
        syn = a.syn
        back = (syn.dst, syn.dport, syn.src, syn.sport)
        answers = [f for f in by_key.get(back, []) if f.number > syn.number and (f.syn_ack or f.rst)]
        answers += [f for f in icmp.get(_key(syn), []) if f.number > syn.number]
        answer = min(answers, key=lambda f: f.number, default=None)
        result, how = _outcome(a, answer, end)
        kind: Kind = "note" if result in ("ok", None) else "error"
        text = f"SYN {endpoint(syn.src, syn.sport)} -> {endpoint(syn.dst, syn.dport)}: {how}"
        where = Where(file, packet=syn.number)
        events.append(Event(kind, text, where, t=syn.t, dial=Dial(a.conn, syn.dst, syn.dport, result)))
        if syn.stream is not None:
            kinds[syn.stream] = a.conn
            if result == "ok" and answer is not None:
                established[syn.stream] = (answer, a.conn, syn.dst, syn.dport)
    for c in controls.values():
        if c.stream not in established and not any(a.syn.stream == c.stream for a in attempts.values()):
            first = next((f for f in frames if f.stream == c.stream and f.icmp is None), None)
            if first is not None:  # no SYN in the capture: established from its first packet
                established[c.stream] = (first, "control", c.server[0], c.server[1])
    events += _resets(frames, established, file)
    return events, kinds


def _outcome(a: _Attempt, answer: Frame | None, end: float) -> tuple[Result | None, str]:
    n = a.retransmissions
    again = f" after {n} retransmission{'s' if n != 1 else ''}" if n else ""
    if answer is None:
        if n or end - a.syn.t >= _QUIET:
            return "timeout", f"no answer ({n} retransmission{'s' if n != 1 else ''})"
        return None, "no answer before the capture ends"
    if answer.icmp is not None:
        words = (_ICMP6 if answer.icmp.v6 else _ICMP4).get(answer.icmp.code, f"code {answer.icmp.code}")
        return "unreachable", f"unreachable (ICMP {words} from {answer.icmp.reporter} in packet {answer.number}{again})"
    if answer.syn_ack:
        return "ok", f"connected (SYN-ACK in packet {answer.number}{again})"
    return "refused", f"refused (RST in packet {answer.number}{again})"


def _resets(frames: list[Frame], established: dict[int, tuple[Frame, Connection, str, int]], file: str) -> list[Event]:
    events: list[Event] = []
    fins: dict[int, set[tuple[str, int]]] = {}
    done: set[int] = set()
    for f in frames:
        if f.icmp is not None or f.stream not in established or f.stream in done:
            continue
        start, conn, host, port = established[f.stream]
        if f.number <= start.number:
            continue
        sender = (f.src, f.sport)
        if f.fin:
            fins.setdefault(f.stream, set()).add(sender)
        if f.rst and sender not in fins.get(f.stream, set()):
            done.add(f.stream)
            text = f"RST {endpoint(*sender)} -> {endpoint(f.dst, f.dport)}: the {conn} connection to {endpoint(host, port)} is reset"
            events.append(
                Event("error", text, Where(file, packet=f.number), t=f.t, dial=Dial(conn, host, port, "reset"))
            )
    return events
