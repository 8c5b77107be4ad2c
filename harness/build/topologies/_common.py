"""Addresses and helpers shared by the topology modules (pure data)."""

from __future__ import annotations

from typing import Any

from harness.build.topology import RuleSet
from harness.core import tls
from harness.core.case import NetSpec, ServerSpec


def nft_set(items: tuple[object, ...]) -> str:
    """An anonymous nft set: "{ 21, 990 }"."""
    return "{ " + ", ".join(map(str, items)) + " }"


SERVER_PUBLIC = "203.0.113.10"  # the address every client dials
CLIENT_PUBLIC = "203.0.113.100"  # the client's public address behind client NAT
CONTROL_PORTS = nft_set(tls.CONTROL_PORTS)
HELPER_PORTS = nft_set(tls.HELPER_PORTS)


def ruleset(
    name: str,
    base: str,
    server: ServerSpec,
    net: NetSpec,
    helper: bool,
    opens_passive: bool = False,
    **defines: Any,  # nft defines (text), and EXTRA_FILES: a tuple of more nat/ files
) -> RuleSet:
    """The firewall's nft ruleset: a file from nat/, plus the helper when asked.
    `opens_passive`: this firewall forwards/allows the passive range (@passive_ports)."""
    extra = tuple(defines.pop("EXTRA_FILES", ()))
    d = {
        "OUTSIDE_IF": '"wan0"',
        "INSIDE_IF": '"lan0"',
        "CONTROL_PORTS": CONTROL_PORTS,
        "FORWARD_RANGE": str(net.forwarded(server)),
    }
    d.update(defines)
    closed = net.forward_none or (net.port_map is not None and opens_passive)
    if closed:
        del d["FORWARD_RANGE"]
    files = ("passive-none.nft" if closed else "passive-forwarded.nft", base) + extra
    if net.port_map is not None and opens_passive:  # public ports -> the server's own, one to one
        pairs = zip(
            range(net.port_map.first, net.port_map.last + 1), range(server.passive.first, server.passive.last + 1)
        )
        d.update(PUBLIC_RANGE=str(net.port_map), PORT_MAP="{ " + ", ".join(f"{a} : {b}" for a, b in pairs) + " }")
        files += ("port-map.nft",)
    if helper:
        d["HELPER_PORTS"] = HELPER_PORTS
        files += ("ftp-helper.nft",)
    forwards = ("" if net.forward_none else str(net.port_map or net.forwarded(server))) if opens_passive else None
    return RuleSet(name, files, tuple(d.items()), helper=helper, forwards=forwards)
