"""Firewall rules: what each firewall must allow for a case, derived from observed flows.

Rule and FirewallRules are plain data; derive.py makes them from an Observation, render.py
prints them for admins (nft, iptables-save, a table), and the runner proves them by replay.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, replace
from typing import Any

CLIENT_EPHEMERAL = "32768-60999"  # Linux ip_local_port_range default, where active-mode clients listen
KINDS = ("clamp", "helper", "dnat", "snat", "input", "filter")  # rendering order within a firewall

# Rule.key: kind order, first port, then the ports, interfaces, addresses and target as text
RuleKey = tuple[int, int, str, str, str, str, str, str]
# FirewallRules.signature: the topology, the box and its rules' keys
Signature = tuple[str, str, tuple[RuleKey, ...]]


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
    def key(self) -> RuleKey:
        first_port = int(self.dports.split("-")[0]) if self.dports else 0
        return (
            KINDS.index(self.kind),
            first_port,
            self.dports or "",
            self.iif or "",
            self.oif or "",
            self.saddr or "",
            self.daddr or "",
            self.to or "",
        )

    def family(self, default: str) -> str:
        """The family of the rule's addresses (a translator's two sides differ); `default` for
        a rule without any (an MSS clamp, a helper)."""
        for a in (self.saddr, self.daddr, self.to):
            try:
                return "ipv4" if ipaddress.ip_network(a or "", strict=False).version == 4 else "ipv6"
            except ValueError:
                continue
        return default

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Rule:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class NotNeeded:
    """A derived rule the case passed without, and the replay that showed it."""

    rule: Rule
    evidence: str


@dataclass
class Proof:
    """How a rule set was shown to be right: by replaying the case through it."""

    verified: bool = False  # the case passed through exactly these rules
    minimal: bool = False  # every listed rule was removed once and the case then failed
    needed: dict[int, str] = field(default_factory=dict)  # rule index -> what failed without it
    not_needed: list[NotNeeded] = field(default_factory=list)  # dropped rules + evidence
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
    client_ephemeral: str = CLIENT_EPHEMERAL
    guards_input: bool = False  # the box terminates connections itself (a proxy): filter input too
    family: str = "ipv4"  # the case's family (a translator's rules have each side's own: Rule.family)
    # the box's own ruleset leaves `family` unfiltered: these rules go in a table of that family
    # next to it (render.nft), and the proof replays with both loaded (Middleboxes.load_alongside)
    unfiltered: bool = False

    def without(self, index: int) -> FirewallRules:
        return replace(self, rules=[r for i, r in enumerate(self.rules) if i != index], proof=Proof())

    def signature(self) -> Signature:
        """Identical rule sets (same firewall role, same rules) share one signature."""
        return (self.topology, self.box, tuple(r.key for r in self.rules))

    def to_json(self) -> dict[str, Any]:
        """The rules and their proof (results.json adds the rendered forms)."""
        p = self.proof
        return {
            "verified": p.verified,
            "minimal": p.minimal,
            "replays": p.replays,
            "error": p.error,
            **({"shared_from": p.shared_from} if p.shared_from else {}),
            **({"family": self.family} if self.family != "ipv4" else {}),  # absent: IPv4
            **({"unfiltered": True} if self.unfiltered else {}),
            "rules": [
                dict(r.to_json(), without_it=p.needed.get(i)) if p.minimal else r.to_json()
                for i, r in enumerate(self.rules)
            ],
            "not_needed": [{"rule": x.rule.to_json(), "evidence": x.evidence} for x in p.not_needed],
        }

    @classmethod
    def from_json(cls, box: str, topology: str, d: dict[str, Any]) -> FirewallRules:
        rules = [Rule.from_json(r) for r in d["rules"]]
        proof = Proof(
            verified=d["verified"],
            minimal=d["minimal"],
            replays=d.get("replays", 0),
            error=d.get("error"),
            shared_from=d.get("shared_from"),
            not_needed=[NotNeeded(Rule.from_json(x["rule"]), x.get("evidence", "")) for x in d.get("not_needed", [])],
            needed={i: r.get("without_it") or "" for i, r in enumerate(d["rules"])} if d["minimal"] else {},
        )
        return cls(
            box,
            topology,
            rules,
            proof,
            guards_input=any(r.kind == "input" for r in rules),
            family=d.get("family", "ipv4"),
            unfiltered=d.get("unfiltered", False),
        )
