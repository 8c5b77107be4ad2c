"""Firewall rules: what each firewall must allow for a case, derived from observed flows.

Rule and FirewallRules are plain data; derive.py makes them from an Observation, render.py
prints them for admins (nft, iptables-save, a table), and the runner proves them by replay.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

KINDS = ("clamp", "helper", "dnat", "snat", "input", "filter")  # rendering order within a firewall


@dataclass(frozen=True)
class Rule:
    """One allow rule (filter: forwarded traffic; input: to the box itself, e.g. a proxy),
    a NAT rule (dnat/snat), a helper attachment or an MSS clamp (clamp), on one firewall."""
    kind: str
    proto: str = "tcp"
    iif: str | None = None
    oif: str | None = None
    saddr: str | None = None
    daddr: str | None = None
    dports: str | None = None  # "21" or "50000-50009"
    to: str | None = None  # dnat: the inside address; snat: "masquerade"
    why: str = ""
    wide_open: bool = False  # generalised to a range nobody would call small

    @property
    def key(self) -> tuple:
        first_port = int(self.dports.split("-")[0]) if self.dports else 0
        return (KINDS.index(self.kind), first_port, self.dports or "", self.iif or "", self.oif or "",
                self.saddr or "", self.daddr or "", self.to or "")

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False)}


@dataclass
class Proof:
    """How a rule set was shown to be right: by replaying the case through it."""
    verified: bool = False  # the case passed through exactly these rules
    minimal: bool = False  # every listed rule was removed once and the case then failed
    needed: dict[int, str] = field(default_factory=dict)  # rule index -> what failed without it
    not_needed: list[dict[str, Any]] = field(default_factory=list)  # dropped rules + evidence
    by_addressing: list[int] = field(default_factory=list)  # kept without a removal replay
    replays: int = 0
    error: str | None = None
    shared_from: str | None = None  # the case whose replay proved these identical rules


@dataclass
class FirewallRules:
    """The rules one firewall needs for one case."""
    box: str
    topology: str
    rules: list[Rule]
    proof: Proof = field(default_factory=Proof)
    client_ephemeral: str = "32768-60999"
    guards_input: bool = False  # the box terminates connections itself (a proxy): filter input too
    family: str = "ipv4"  # the address family of every address in the rules

    def without(self, index: int) -> "FirewallRules":
        return replace(self, rules=[r for i, r in enumerate(self.rules) if i != index], proof=Proof())

    def signature(self) -> tuple:
        """Identical rule sets (same firewall role, same rules) share one signature."""
        return (self.topology, self.box, tuple(r.key for r in self.rules))
