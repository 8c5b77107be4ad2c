"""The admin's nftables ruleset as nft loaded it (`nft -j list ruleset`), each rule tied to its
line of the admin's file, and whether a rule's matches hold for a packet (pure).

verify's intent reasoning (intent.py) asks of a rule: which hooks reach its chain (through
jumps, gotos and verdict maps too), at which priority, and which of its matches a traced
packet meets. A match it cannot judge (a mark, a meter) answers None: such a rule is never
said to be "meant for" a packet.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from harness.observe.trace import TracePath, rule_lines

Key = tuple[str, str, str]  # (family, table, chain or set name)
VERDICTS = ("accept", "drop", "reject", "dnat", "snat", "masquerade", "redirect", "jump", "goto", "vmap")
CONNTRACK_PRIO = -200  # conntrack makes a connection's entry at this priority on prerouting and output


@dataclass(frozen=True)
class ChainInfo:
    family: str
    table: str
    name: str
    hook: str | None  # None: a regular chain, reached by jump or goto
    type: str | None
    prio: int | None
    policy: str | None
    line: int | None = None  # 0-based line of its `type ... hook ...` statement in the admin's file


@dataclass(frozen=True)
class AdminRule:
    """One rule of the admin's file, as nft loaded it."""

    family: str
    table: str
    chain: str
    index: int  # its position in the chain
    line: int  # 0-based line in the admin's file
    written: str  # the line as the admin wrote it (stripped)
    expr: tuple[Any, ...] = field(compare=False, hash=False)

    @property
    def key(self) -> Key:
        return (self.family, self.table, self.chain)

    @property
    def matches(self) -> list[dict[str, Any]]:
        return [e["match"] for e in self.expr if isinstance(e, dict) and "match" in e]

    @property
    def verdict(self) -> str | None:
        """What the rule does once it matches: accept, drop, dnat, jump, ... (None: only counts)."""
        for e in self.expr:
            if isinstance(e, dict):
                for k in VERDICTS:
                    if k in e:
                        return k
        return None

    @property
    def helper(self) -> str | None:
        """The helper object a `ct helper set "name"` statement assigns."""
        for e in self.expr:
            if isinstance(e, dict) and "ct helper" in e:
                return str(e["ct helper"])
        return None


@dataclass(frozen=True)
class Packet:
    """A SYN as one hook saw it (addresses after any DNAT on input/forward/postrouting)."""

    hook: str
    iif: str
    oif: str
    src: str
    sport: int
    dst: str
    dport: int
    proto: str = "tcp"
    dnat: bool = False  # its connection was port-forwarded before this hook

    @classmethod
    def of(cls, p: TracePath, dnat: bool = False) -> Packet:
        return cls(p.hook, p.iif, p.oif, p.src, p.sport, p.dst, p.dport, p.proto or "tcp", dnat)


@dataclass
class Ruleset:
    """The admin's file and nft's JSON of it, rule by rule."""

    file: str  # the file's name, as "file:line" names it
    text: str
    rules: list[AdminRule]
    chains: dict[Key, ChainInfo]
    sets: dict[Key, dict[str, Any]]
    reached: dict[Key, set[tuple[str, int]]]  # chain -> (hook, priority) of the base chains reaching it

    def where(self, rule: AdminRule) -> str:
        return f"{self.file}:{rule.line + 1}"

    def hooks(self, rule: AdminRule) -> set[str]:
        return {h for h, _ in self.reached.get(rule.key, set())}

    def at(self, source: str | None) -> AdminRule | None:
        """The rule a trace names by "file:line"."""
        if not source or not source.startswith(f"{self.file}:"):
            return None
        line = int(source.rsplit(":", 1)[1]) - 1
        return next((r for r in self.rules if r.line == line), None)


def ruleset(doc: dict[str, Any], text: str, file: str) -> Ruleset:
    """Tie each rule of `doc` to its line of `text`: a chain's rules in the file, in order, one
    to one with the chain's rules in the listing (a chain whose rules do not line up is left out)."""
    items = doc.get("nftables", [])
    where, _ = rule_lines(text)
    chains: dict[Key, ChainInfo] = {}
    sets: dict[Key, dict[str, Any]] = {}
    listed: dict[Key, list[dict[str, Any]]] = {}
    for x in items:
        if c := x.get("chain"):
            key = (c["family"], c["table"], c["name"])
            chains[key] = ChainInfo(*key, c.get("hook"), c.get("type"), c.get("prio"), c.get("policy"))
        elif s := x.get("set") or x.get("map"):
            sets[(s["family"], s["table"], s["name"])] = s
        elif r := x.get("rule"):
            listed.setdefault((r["family"], r["table"], r["chain"]), []).append(r)
    lines = text.split("\n")
    rules = []
    for key, rs in listed.items():
        at = where.get(key, [])
        if len(at) != len(rs):
            continue
        for i, (r, n) in enumerate(zip(rs, at)):
            rules.append(AdminRule(*key, i, n, lines[n].split("#", 1)[0].strip(), tuple(r.get("expr", ()))))
    chains = {k: _with_line(c, lines) for k, c in chains.items()}
    return Ruleset(file, text, rules, chains, sets, _reach(chains, listed))


def _with_line(c: ChainInfo, lines: list[str]) -> ChainInfo:
    """The line of a base chain's `type ... hook ...` statement, found in its block."""
    if c.hook is None:
        return c
    inside = False
    for i, l in enumerate(lines):
        s = l.split("#", 1)[0].strip()
        if s.startswith(("table ", "table\t")):
            inside = c.table in s.split()
        elif inside and s.startswith("chain ") and s.split()[1].strip('"{') == c.name:
            for j in range(i + 1, len(lines)):
                t = lines[j].split("#", 1)[0].strip()
                if t.startswith("type ") and " hook " in f" {t} ":
                    return ChainInfo(c.family, c.table, c.name, c.hook, c.type, c.prio, c.policy, j)
                if t.startswith("}"):
                    break
    return c


def _targets(expr: tuple[Any, ...]) -> list[str]:
    """Chains a rule jumps or goes to, also through a verdict map."""
    out = []
    for e in expr:
        if not isinstance(e, dict):
            continue
        for k in ("jump", "goto"):
            if isinstance(e.get(k), dict):
                out.append(str(e[k]["target"]))
        vmap = e.get("vmap")
        if isinstance(vmap, dict):
            data = (vmap.get("data") or {}).get("set") or []
            for pair in data:
                if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], dict):
                    out += _targets((pair[1],))
    return out


def _reach(chains: dict[Key, ChainInfo], listed: dict[Key, list[dict[str, Any]]]) -> dict[Key, set[tuple[str, int]]]:
    """Every chain's (hook, priority) pairs: its own, or those of the base chains that reach it
    (every rule of the listing counts, lined up with the file or not)."""
    reached: dict[Key, set[tuple[str, int]]] = {
        k: {(c.hook, c.prio or 0)} for k, c in chains.items() if c.hook is not None
    }
    jumps: dict[Key, list[Key]] = {}
    for (family, table, chain), rs in listed.items():
        for r in rs:
            jumps.setdefault((family, table, chain), []).extend(
                (family, table, t) for t in _targets(tuple(r.get("expr", ())))
            )
    todo = list(reached)
    while todo:
        k = todo.pop()
        for t in jumps.get(k, []):
            before = len(reached.setdefault(t, set()))
            reached[t] |= reached[k]
            if len(reached[t]) > before:
                todo.append(t)
    return reached


# --- matches ------------------------------------------------------------------------


def holds(m: dict[str, Any], pkt: Packet, rs: Ruleset, table: tuple[str, str]) -> bool | None:
    """Whether the match `m` (a rule's {"match": ...}) holds for `pkt`; None: cannot tell."""
    value = _value(m.get("left"), pkt)
    if value is None:
        return None
    right, op = m.get("right"), m.get("op", "==")
    if isinstance(right, str) and right.startswith("@"):
        s = rs.sets.get((*table, right[1:]))
        if s is None:
            return None
        right = {"set": s.get("elem", [])}
    if op in ("<", ">", "<=", ">="):
        if not (isinstance(value, int) and isinstance(right, int)):
            return None
        return {"<": value < right, ">": value > right, "<=": value <= right, ">=": value >= right}[op]
    found = _contains(right, value)
    if found is None:
        return None
    return not found if op == "!=" else found


def _value(left: Any, pkt: Packet) -> Any:
    """The packet's value for a match's left-hand side (None: not one this module knows)."""
    if not isinstance(left, dict):
        return None
    if meta := left.get("meta"):
        key = meta.get("key")
        return {
            "iifname": pkt.iif,
            "iif": pkt.iif,
            "oifname": pkt.oif,
            "oif": pkt.oif,
            "l4proto": pkt.proto,
            "protocol": "ip",
            "nfproto": "ipv4",
        }.get(key)
    if pl := left.get("payload"):
        proto, fld = pl.get("protocol"), pl.get("field")
        if proto == "ip":
            return {"saddr": pkt.src, "daddr": pkt.dst, "protocol": pkt.proto}.get(fld)
        if proto in ("tcp", "th", "udp"):
            if proto != "th" and proto != pkt.proto:
                return _ABSENT
            return {"sport": pkt.sport, "dport": pkt.dport, "flags": ("syn",)}.get(fld) if proto != "udp" else None
        if proto in ("ip6", "icmp", "icmpv6"):
            return _ABSENT
        return None
    if ct := left.get("ct"):
        return {"state": ("new",), "status": ("dnat",) if pkt.dnat else (), "direction": "original"}.get(ct.get("key"))
    return None


class _Absent:
    """A header the packet does not have (an IPv6 match on an IPv4 packet): never matches."""


_ABSENT = _Absent()


def _contains(right: Any, value: Any) -> bool | None:
    if value is _ABSENT:
        return False
    if isinstance(value, tuple):  # flags: the match holds when any named flag is set
        names = right if isinstance(right, list) else [right]
        return any(n in value for n in names if isinstance(n, str)) if names else None
    if isinstance(right, dict):
        if "set" in right:
            found = [_contains(x, value) for x in right["set"]]
            return True if any(found) else (None if None in found else False)
        if "range" in right:
            lo, hi = right["range"]
            return _between(value, lo, hi)
        if "prefix" in right:
            try:
                net = ipaddress.ip_network(f"{right['prefix']['addr']}/{right['prefix']['len']}", strict=False)
                return ipaddress.ip_address(value) in net
            except (ValueError, KeyError, TypeError):
                return None
        return None
    if isinstance(right, list):
        return any(_contains(x, value) for x in right)
    if isinstance(right, str) and isinstance(value, str):
        return value.startswith(right[:-1]) if right.endswith("*") else value == right
    if isinstance(right, int) and isinstance(value, int):
        return value == right
    return None


def _between(value: Any, lo: Any, hi: Any) -> bool | None:
    if isinstance(value, int) and isinstance(lo, int) and isinstance(hi, int):
        return lo <= value <= hi
    try:
        a, v, b = (ipaddress.ip_address(x) for x in (lo, value, hi))
    except (ValueError, TypeError):
        return None
    return a.version == v.version == b.version and int(a) <= int(v) <= int(b)


def misses(rule: AdminRule, pkt: Packet, rs: Ruleset) -> list[dict[str, Any]] | None:
    """The rule's matches that `pkt` fails (None: a match this module cannot judge)."""
    out = []
    for m in rule.matches:
        h = holds(m, pkt, rs, (rule.family, rule.table))
        if h is None:
            return None
        if not h:
            out.append(m)
    return out


def field_of(m: dict[str, Any]) -> str:
    """What a match tests, in nft's words: iifname, ip daddr, tcp dport, ct state, ..."""
    left = m.get("left") or {}
    if "meta" in left:
        return str(left["meta"].get("key"))
    if "payload" in left:
        return f"{left['payload'].get('protocol')} {left['payload'].get('field')}"
    if "ct" in left:
        return f"ct {left['ct'].get('key')}"
    return "?"
