"""Checks that only an address family explains.

- a line that cannot carry an IPv6 address (PASV's 227, PORT) on an IPv6 connection;
- a client that, asked for PASV/PORT on IPv6, sent EPSV/EPRT instead (not expressible);
- an EPRT/PORT line a middlebox rewrote to the same address in another spelling (the kernel
  writes IPv6 in full), which the server then refused as foreign;
- an EPRT of one family to a server that sees the other (a translator such as NAT64);
- a firewall none of whose tables sees the case's family (unfiltered: a security note).
Each reads the peer's own reply and the lines as sent and received: never a table.
"""

from __future__ import annotations

from dataclasses import replace

from harness.build import tracking
from harness.core import family
from harness.core.tls import CONTROL_PORTS
from harness.judge.checks import check
from harness.judge.evidence import Evidence, PlacedFailure, Unfiltered, helper_boxes, last_data
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation

_EXTENDED = {"pasv": ("PASV", "EPSV"), "port": ("PORT", "EPRT")}


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


def _fam(name: str) -> str:
    return name.replace("ipv", "IPv")


@check("not-expressible", 20)
def substituted_mode(obs: Observation, ev: Evidence) -> Verdict | None:
    """On IPv6 the client was asked for PASV/PORT but sent only EPSV/EPRT (curl and lftp do so
    by themselves): the case asked could not be expressed, whatever the session did."""
    if ev.failure or not obs.client or obs.topology.family != "ipv6" or obs.case.client.mode not in _EXTENDED:
        return None
    asked, used = _EXTENDED[obs.case.client.mode]
    sent = [t.line for t in obs.client.transcript if t.dir == "sent"]
    if any(x[:4].upper() == asked for x in sent):
        return None
    instead = next((x for x in sent if x[:4].upper() == used), None)
    if instead is None:
        return None
    topo = obs.topology
    why = (
        family.cannot_carry("PORT", topo.address_of(topo.client))
        if asked == "PORT"
        else family.cannot_carry("227", topo.server_public)
    )
    ev = replace(ev, sent_instead=instead)
    text = (
        f"{obs.case.client.impl} was asked for {asked} but sent {used} instead, on every "
        f"transfer: on an IPv6 connection it cannot be made to send {asked}. "
        f"{_cap(why)}. (The session itself passed with {used}.)"
    )
    return Verdict("skip", None, text, ev)


@check("ipv4-only-line", 70)
def ipv4_only_line(obs: Observation, ev: Evidence) -> Verdict | None:
    """PASV or PORT on an IPv6 control connection, refused or answered with an unusable line."""
    f, d = ev.failure, last_data(obs)
    if not f or obs.topology.family != "ipv6" or d.mode not in ("pasv", "port"):
        return None
    reply = f.reply or d.reply or ""
    server = obs.topology.server_public
    if not reply and d.mode == "pasv":
        return _lost_227(obs, ev, f)
    if not reply:
        return None
    if d.mode == "pasv":
        line = "227"
        got = family.parse_227_or_none(reply) if reply.startswith("227") else None
        if got:
            what = (
                f"The server answered PASV with '{reply}': an IPv4 address ({got.ip}) that an "
                f"IPv6 client cannot use"
                + (f" (its connection failed: {f.error})" if f.stage == "data-connect" else "")
                + "."
            )
        elif reply.startswith("227"):
            what = (
                f"The server answered PASV with '{reply}', which is not a valid 227 reply: "
                "no client can read an address from it."
            )
        else:
            what = f"The server refused PASV on an IPv6 connection: '{reply}'."
    else:
        line = "PORT"
        what = f"The server refused '{d.sent or 'PORT'}': '{reply}'."
    why = family.cannot_carry(line, server if line == "227" else "of the client")
    return Verdict("fail", f.stage, f"{what} {_cap(why)}.", ev)


def _lost_227(obs: Observation, ev: Evidence, f: PlacedFailure) -> Verdict | None:
    """The server sent a 227 with an IPv6 address and the client never got it: a helper that
    reads 227 replies sat in between."""
    got = {t.line for t in obs.client.transcript if t.dir == "recv"} if obs.client else set()
    lost = [e.line for e in obs.server.lines if e.dir == "sent" and e.line.startswith("227") and e.line not in got]
    boxes = helper_boxes(obs)
    if not lost or not boxes or family.parse_227_or_none(lost[-1]):
        return None
    why = family.cannot_carry("227", obs.topology.server_public)
    text = (
        f"The server answered PASV with '{lost[-1]}', but the client never received it and "
        f"gave up ({f.error}). The FTP helper on {', '.join(boxes)} reads every 227 reply "
        "and drops a packet whose address it can only partly parse (nf_conntrack_ftp: "
        f'"partial matching"); this one holds an IPv6 address. {_cap(why)}.'
    )
    return Verdict("fail", f.stage, text, ev)


@check("address-respelled", 80)
def respelled_address(obs: Observation, ev: Evidence) -> Verdict | None:
    """A middlebox rewrote EPRT/PORT to the server's own control peer in another spelling (the
    kernel writes IPv6 in full), and the server refused it as foreign."""
    f, d = ev.failure, last_data(obs)
    if not f or d.mode not in ("port", "eprt") or not d.sent:
        return None
    pair = next((p for p in ev.control if p.sent == d.sent and p.tampered), None)
    reply = d.reply or f.reply or ""
    if pair is None or reply[:1] not in ("4", "5"):
        return None
    sent, received = family.address_in(pair.sent), family.address_in(pair.received)
    peer = next(
        (
            family.peer_address(e.peer)
            for e in obs.server.lines
            if e.dir == "recv" and e.line == pair.received and e.peer
        ),
        None,
    )
    if not received or received == peer or not family.same_address(received, peer):
        return None
    boxes = helper_boxes(obs)
    by = f"The FTP helper on {', '.join(boxes)}" if boxes else "A middlebox"
    what = "the same address" if family.same_address(sent, received) else "the address it translates the client to"
    text = (
        f"{by} rewrote '{pair.sent}' into '{pair.received}': {what}, spelled out in "
        f"full. That is the server's own control peer ({peer}), yet the server did not "
        f"recognise it in that spelling and refused it as a foreign address: '{reply}'."
    )
    return Verdict("fail", "data-setup", text, ev)  # the server refused the line itself


def _server_sees(obs: Observation) -> str | None:
    """The client's address as the server sees it: from the server's own lines, else from
    the control connection a middlebox tracked towards the server."""
    peer = next((family.peer_address(e.peer) for e in obs.server.lines if e.dir == "recv" and e.peer), None)
    if peer:
        return peer
    return next(
        (
            f.reply_dst
            for box, view in obs.middleboxes.items()
            for f in view.parsed_flows(box)
            if f.real_dport in CONTROL_PORTS and obs.topology.owner_of(f.real_dst) in obs.topology.servers
        ),
        None,
    )


@check("family-mismatch", 90)
def family_mismatch(obs: Observation, ev: Evidence) -> Verdict | None:
    """EPRT announced an address of the other family than the one the server sees the control
    connection in (a translator such as NAT64 in between), and the server refused it."""
    f, d = ev.failure, last_data(obs)
    if not f or d.mode != "eprt" or not d.sent:
        return None
    reply = d.reply or f.reply or ""
    announced, peer = family.address_in(d.sent), _server_sees(obs)
    if not announced or not peer or reply[:1] not in ("4", "5"):
        return None
    try:
        a, p = family.of(announced), family.of(peer)
    except ValueError:
        return None
    if a is p:
        return None
    via = [b.name for b in obs.topology.middleboxes if b.translator]
    text = (
        f"The client announced an {_fam(a.name)} address in '{d.sent}', but the server sees its "
        f"control connection coming from the {_fam(p.name)} address {peer}"
        + (f" (translated by {', '.join(via)})" if via else "")
        + f"; it cannot connect back to the announced address and said so: '{reply}'. Without an "
        "FTP ALG in the translator active mode cannot work (RFC 6384); EPSV can."
    )
    return Verdict("fail", "data-setup", text, ev)  # the server refused the EPRT line itself


def _tables_said(tables: list[str]) -> str:
    return ", ".join(f"table {t}" for t in tables) if tables else "no table at all"


def unfiltered(obs: Observation) -> tuple[dict[str, Unfiltered], list[str]]:
    """Security notes for a passing case: it crossed a firewall none of whose tables is of a
    family that sees its packets (an IPv4-only ruleset on a dual-stack box). Conntrack there
    tracks the family only because the lab asked it to (harness/build/tracking.py)."""
    notes, found = [], {}
    fam = _fam(obs.topology.family)
    for box in obs.topology.middleboxes:
        if box.ruleset is None:
            continue
        view = obs.middleboxes.get(box.name)
        # what the kernel holds in the box; a recording made before that was kept: the text's
        tables = list(view.tables) if view and view.tables else [t.removeprefix("table ") for t in tracking.tables(box)]
        if any(t.split()[0] in tracking.SEES[obs.topology.family] for t in tables):
            continue
        seen = [f.describe() for f in view.parsed_flows(box.name)] if view else []
        found[box.name] = Unfiltered(tuple(f"table {t}" for t in tables), tuple(seen[:4]))
        tracked = (
            f"its own tables ask for no {fam} connection state (the harness's tracking table made "
            f"conntrack record {len(seen)} of its connections, to derive the rules a filter would need)"
            if seen
            else f"conntrack there did not even track it (no table asks for {fam} connection state)"
        )
        notes.append(
            f"SECURITY: {fam} UNFILTERED on {box.name}: this {fam} session crossed it and passed, "
            f"but its ruleset has only {_tables_said(tables)}, which no {fam} packet ever meets; "
            f"{tracked}. Whatever those rules refuse over the other family is open over {fam}."
        )
    return found, notes
