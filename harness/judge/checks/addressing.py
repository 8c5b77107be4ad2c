"""Addresses that do not match: a data connection from or to another address than the
control connection's, or an advertised address the client cannot reach."""

from __future__ import annotations

from harness.core.family import address_in as _port_address
from harness.core.family import same_address
from harness.core.tls import CONTROL_PORTS
from harness.judge.checks import check
from harness.judge.evidence import (
    Evidence,
    helper_boxes,
    last_data,
    private,
    rejections,
    server_pattern,
    server_says,
    session_peer,
    what,
)
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation


def _seen_from(obs: Observation) -> str | None:
    """The client's address as the server sees it on the control connection: from the
    server's own lines, else from a middlebox that translated the control connection."""
    peer = session_peer(obs)
    if peer:
        return peer
    for box, view in obs.middleboxes.items():
        for f in view.parsed_flows(box):
            if f.real_dport in CONTROL_PORTS and f.snat:
                return f.reply_dst
    return None


def _data_source(obs: Observation, control_from: str, reply: str) -> str | None:
    """Where a refused passive data connection came from, if not from the control's address:
    the server's own words, else a middlebox that gave the data connection another source."""
    m = server_pattern(obs, "foreign-address").search(reply)
    if m and m.groups() and m.group(1):
        return m.group(1)
    for box, view in obs.middleboxes.items():
        for f in view.parsed_flows(box):
            if f.snat and f.real_dport not in CONTROL_PORTS and f.reply_dst != control_from:
                return f.reply_dst
    return None


@check("foreign-address", 100)
def foreign_address(obs: Observation, ev: Evidence) -> Verdict | None:
    """The data connection's address is not the control connection's, and the server refused.
    Decided from addresses (announced, seen, translated), not from any server's wording."""
    f, d = ev.failure, last_data(obs)
    peer = _seen_from(obs)
    if f is None or not peer or f.stage not in ("data-setup", "data-connect", "data-tls", "transfer"):
        return None
    if d.mode in ("port", "eprt") and d.sent:
        received = next((p.received for p in ev.control if p.sent == d.sent), d.sent)
        announced, reply = _port_address(received), d.reply or ""
        if not announced or same_address(announced, peer) or reply[:1] not in "45":
            return None
        why = (
            "the FTP helper cannot read it because the control channel is TLS-encrypted"
            if obs.case.server.mode.helper_blind and helper_boxes(obs)
            else "no FTP helper on the path rewrote it"
            if not helper_boxes(obs)
            else "the helper did not rewrite it"
        )
        if any(b.proxy for b in obs.topology.middleboxes):
            why = "a TCP proxy in between hides the client's address from the server"
        text = (
            f"The client announced '{received}' (its address {announced}), but the server sees "
            f"its control connection coming from {peer}, and refused to connect to another "
            f"address: '{reply}'. {why[0].upper() + why[1:]}."
        )
        return Verdict("fail", f.stage, text, ev)
    said = f.said or d.late_reply or ""
    logged = server_says(obs, "foreign-address")
    data_from = _data_source(obs, peer, said or (logged[-1] if logged else ""))
    if not data_from or data_from == peer:
        return None
    reason = said or (logged[-1] if logged else f.error)
    text = (
        f"IP addresses do not match: the data connection reached the server from {data_from}, "
        f"but the control connection comes from {peer}, so the server refused it "
        f"('{reason}').{_snat_story(obs, peer, data_from)}"
    )
    # The server refused the data connection itself; whether the client noticed during its TLS
    # handshake or in the reply to STOR is a race, so the stage is data-connect.
    return Verdict("fail", "data-connect", text, ev)


def _snat_story(obs: Observation, control_from: str, data_from: str) -> str:
    """Which firewall gave the two connections different source addresses, if one did."""
    for box, view in obs.middleboxes.items():
        srcs = {f.reply_dst for f in view.parsed_flows(box) if f.snat}
        if {control_from, data_from} <= srcs:
            return (
                f" {box} source-NATs each new connection to one of its addresses: the control "
                f"connection left as {control_from} and the data connection as {data_from}."
            )
    return ""


@check("advertised-address-unreachable", 120)
def advertised_unreachable(obs: Observation, ev: Evidence) -> Verdict | None:
    """The client trusted an address in the 227 reply that it cannot reach."""
    f = ev.failure
    d = last_data(obs)
    if f is None or f.stage != "data-connect" or d.result in (None, "ok") or not d.advertised_ip:
        return None
    ip, port = d.advertised_ip, d.advertised_port
    if str(d.target) != f"{ip}:{port}" or ip == d.control_peer:
        return None
    sent = next((p.sent for p in ev.control if p.received == d.reply), d.reply)
    owner = obs.topology.owner_of(ip)
    whose = (
        f"the private address of {owner}"
        if owner and private(ip)
        else "a private address"
        if private(ip)
        else "an address other than the control connection's"
    )
    text = (
        f"The server advertised {ip}:{port} in its PASV reply ('{sent}'), {whose}; the client "
        f"trusted it and its connection {what(d.result)}{rejections(ev)}. "
        f"The control connection goes to {d.control_peer}, so that is the only address "
        f"reachable from the client's side."
    )
    if obs.case.server.mode.helper_blind and helper_boxes(obs):
        text += " The FTP helper could not rewrite the reply: the control channel is encrypted."
    return Verdict("fail", "data-connect", text, ev)
