"""Packet-level evidence from a middlebox: `nft monitor trace` lines -> per-packet paths (pure).

The lab adds a table of its own (TRACE_TABLE) to every middlebox. Its chains sit first on
every hook; they mark the packets worth following (connection attempts: SYNs, SYN-ACKs,
RSTs, and ICMP) with `meta nftrace set 1`, and each chain's own trace line tells which hook a
packet is in. The admin's tables are never edited. Rules are named by table, chain, handle and
text, and by the file and line they came from where the ruleset was rendered from files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from harness.build.tracing import HOOKS, TRACE_TABLE, TRACK_TABLE


@dataclass(frozen=True)
class TraceRule:
    """One rule (or chain policy) a packet met."""

    family: str
    table: str
    chain: str
    handle: int | None  # None for a chain policy
    text: str  # as nft prints it; "policy drop" for a policy
    verdict: str | None  # "accept", "drop", "jump x", "continue", ...
    source: str | None = None  # "edge.nft:22" where the ruleset came from a file

    def quote(self) -> str:
        """How a diagnosis names it: "edge.nft:31 `tcp dport 21 drop`" or "(policy drop)"."""
        if self.handle is None:
            return f"({self.text})" + (f" ({self.source})" if self.source else "")
        text = re.sub(r" counter packets \d+ bytes \d+", " counter", self.text)
        return f"{self.source or f'handle {self.handle}'} `{text}`"


@dataclass(frozen=True)
class TracePath:
    """One packet's path through one middlebox's hook."""

    box: str
    trace_id: str
    hook: str  # prerouting | input | forward | output | postrouting | "?"
    proto: str
    src: str
    sport: int
    dst: str
    dport: int
    flags: str  # e.g. "syn", "syn|ack"; "" when not TCP
    rules: tuple[TraceRule, ...]
    verdict: str  # accept | drop | queue ... (a reject shows as drop, its rule says reject)
    by: TraceRule | None  # the rule or policy that decided it
    iif: str = ""  # the interface it arrived on ("" where the hook has none, e.g. output)
    oif: str = ""  # the interface it leaves by (forward, postrouting, output)

    @property
    def syn(self) -> bool:
        return self.flags == "syn"

    @property
    def rst(self) -> bool:
        return self.proto == "tcp" and "rst" in self.flags.replace("|", " ").split()

    @property
    def opening(self) -> bool:
        """A SYN or a SYN-ACK: a packet a connection cannot open without."""
        return self.proto == "tcp" and self.flags in ("syn", "syn|ack")

    @property
    def key(self) -> tuple[str, int, str, int]:
        return (self.src, self.sport, self.dst, self.dport)


# --- parsing `nft -a monitor trace` --------------------------------------------

_LINE = re.compile(r"^trace id (\S+) (\S+) (\S+) (\S+) (packet|rule|policy|verdict|unknown)\b:? ?(.*?)\s*$")
_RULE = re.compile(r"^(.*?)(?: # handle (\d+))? \(verdict ([^)]*)\)$")
_TCP_FLAGS = (("fin", 1), ("syn", 2), ("rst", 4), ("psh", 8), ("ack", 16), ("urg", 32), ("ecn", 64), ("cwr", 128))


def _flags(text: str) -> str:
    m = re.search(r"tcp flags == (\S+(?: \| \S+)*)", text)
    if not m:
        return ""
    v = m.group(1)
    if v.startswith("0x"):
        n = int(v, 16)
        return "|".join(name for name, bit in _TCP_FLAGS if n & bit)
    return "|".join(re.findall(r"\w+", v))


def _header(text: str) -> dict[str, Any]:
    def grab(pattern: str, default: Any = "") -> Any:
        m = re.search(pattern, text)
        return m.group(1) if m else default

    proto = grab(r"\bip protocol (\w+)") or grab(r"\bip6 nexthdr (\w+)") or grab(r"\bmeta l4proto (\w+)")
    return {
        "src": grab(r"\bip6? saddr (\S+)"),
        "dst": grab(r"\bip6? daddr (\S+)"),
        "sport": int(grab(r"\b(?:tcp|udp) sport (\d+)", 0)),
        "dport": int(grab(r"\b(?:tcp|udp) dport (\d+)", 0)),
        "proto": proto,
        "flags": _flags(text),
        "iif": grab(r'\biif "?([^"\s]+)"?'),
        "oif": grab(r'\boif "?([^"\s]+)"?'),
    }


def _decide(rules: list[TraceRule]) -> tuple[str, TraceRule | None]:
    """A hook's verdict: a drop anywhere ends it; else the last accept (or policy) decided."""
    by = None
    for r in rules:
        v = (r.verdict or "").split()[0] if r.verdict else ""
        if v in ("drop", "queue", "stolen"):
            return v, r
        if v == "accept":
            by = r
    return "accept", by


def parse(
    box: str,
    lines: Iterable[str],
    sources: dict[tuple[str, str, int | None], str] | None = None,
    policies: dict[tuple[str, str, str], str] | None = None,
) -> list[TracePath]:
    """`nft -a monitor trace` lines -> one TracePath per packet per hook, in order of first
    appearance. `sources` maps (table family, table, handle) to "file:line"; `policies`
    maps (family, table, chain) to the line declaring its policy."""
    sources, policies = sources or {}, policies or {}
    order: list[tuple[str, int]] = []  # (trace id, segment) in order of appearance
    segs: dict[tuple[str, int], dict[str, Any]] = {}
    current: dict[str, int] = {}
    for raw in lines:
        m = _LINE.match(raw.strip())
        if not m:
            continue
        tid, family, table, chain, kind, rest = m.groups()
        ours = table == TRACE_TABLE
        if ours and kind == "packet":  # our chain is first on its hook: a new segment
            n = current.get(tid, -1) + 1
            current[tid] = n
            segs[(tid, n)] = {"hook": chain if chain in HOOKS else "?", "head": _header(rest), "rules": []}
            order.append((tid, n))
            continue
        if ours or table == TRACK_TABLE:  # the lab's tables decide nothing
            continue
        if tid not in current:  # a packet traced without our marker (should not happen)
            current[tid] = 0
            segs[(tid, 0)] = {"hook": "?", "head": _header(rest) if kind == "packet" else {}, "rules": []}
            order.append((tid, 0))
        seg = segs[(tid, current[tid])]
        if kind == "packet":
            if not seg["head"]:
                seg["head"] = _header(rest)
        elif kind == "rule":
            r = _RULE.match(rest)
            if r:
                handle = int(r.group(2)) if r.group(2) else None
                seg["rules"].append(
                    TraceRule(
                        family, table, chain, handle, r.group(1), r.group(3), sources.get((family, table, handle))
                    )
                )
        elif kind == "policy":
            seg["rules"].append(
                TraceRule(family, table, chain, None, f"policy {rest}", rest, policies.get((family, table, chain)))
            )
    out = []
    for key in order:
        seg = segs[key]
        h = seg["head"] or {}
        verdict, by = _decide(seg["rules"])
        out.append(
            TracePath(
                box,
                key[0],
                seg["hook"],
                h.get("proto", ""),
                h.get("src", ""),
                h.get("sport", 0),
                h.get("dst", ""),
                h.get("dport", 0),
                h.get("flags", ""),
                tuple(seg["rules"]),
                verdict,
                by,
                h.get("iif", ""),
                h.get("oif", ""),
            )
        )
    return out


# --- connection attempts -----------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """A connection attempt seen by one middlebox: its SYN (and retransmissions), every hook."""

    box: str
    src: str
    sport: int
    dst: str  # as it arrived (before any DNAT)
    dport: int
    paths: tuple[TracePath, ...]

    @property
    def stopped(self) -> TracePath | None:
        """The hook where a SYN of this attempt was dropped, if one was."""
        return next((p for p in self.paths if p.verdict != "accept"), None)

    def nat_rule(self) -> TraceRule | None:
        """The last NAT rule that translated it (source NAT comes last), if the trace shows one."""
        for p in reversed(self.paths):
            for r in reversed(p.rules):
                if re.search(r"\b(snat|masquerade|dnat|redirect)\b", r.text) and r.verdict == "accept":
                    return r
        return None


def attempts(paths: Sequence[TracePath]) -> list[Attempt]:
    """SYN packets grouped by the tuple they arrived with, in order of first appearance."""
    first: dict[str, TracePath] = {}
    for p in paths:
        first.setdefault(p.trace_id, p)
    groups: dict[tuple[str, int, str, int], list[TracePath]] = {}
    for p in paths:
        head = first[p.trace_id]
        if not head.syn:
            continue
        groups.setdefault((head.src, head.sport, head.dst, head.dport), []).append(p)
    return [Attempt(paths[0].box, *key, tuple(ps)) for key, ps in groups.items()]


# --- conntrack statistics -------------------------------------------------------------


def stats_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0) > 0}


# --- rule handles -> file and line ------------------------------------------------------

_TABLE = re.compile(r"^\s*table\s+(?:(ip|ip6|inet|arp|bridge|netdev)\s+)?([\w.-]+)\s*\{")
_CHAIN = re.compile(r"^\s*chain\s+([\w.-]+)\s*\{")
_ADD_RULE = re.compile(r"^\s*add\s+rule\s+(?:(ip|ip6|inet|arp|bridge|netdev)\s+)?([\w.-]+)\s+([\w.-]+)\s")


def rule_lines(text: str) -> tuple[dict[tuple[str, str, str], list[int]], dict[tuple[str, str, str], int]]:
    """Where each rule of a ruleset text starts, per (family, table, chain), in order, and the
    line of each chain's policy. Line numbers are 0-based indexes into text's lines. Rules
    added with `insert` or from `include`d files are not seen: such chains will not match."""
    rules: dict[tuple[str, str, str], list[int]] = {}
    policy: dict[tuple[str, str, str], int] = {}
    depth, table, chain, chain_depth, cont = 0, None, None, 0, False
    for i, line in enumerate(text.split("\n")):
        code = line.split("#", 1)[0].rstrip()
        if not code.strip():
            continue
        was_cont, cont = cont, code.endswith("\\")
        if depth == 0:
            m, a = _TABLE.match(code), _ADD_RULE.match(code)
            if m:
                table = (m.group(1) or "ip", m.group(2))
            elif a:
                rules.setdefault((a.group(1) or "ip", a.group(2), a.group(3)), []).append(i)
        elif table and depth == 1 and (c := _CHAIN.match(code)):
            chain, chain_depth = (*table, c.group(1)), depth + 1
        elif chain and depth == chain_depth:
            s = code.strip()
            if re.match(r"^type\s.*\bhook\b", s) or s.startswith("policy "):
                if "policy " in s:
                    policy[chain] = i
            elif not was_cont and not s.startswith(("}", "comment ", "devices ")):
                rules.setdefault(chain, []).append(i)
        depth += code.count("{") - code.count("}")
        if chain and depth < chain_depth:
            chain = None
        if depth <= 0:
            depth, table = 0, None
    return rules, policy


def handles(listing: dict[str, Any]) -> dict[tuple[str, str, str], list[int]]:
    """`nft -a -j list ruleset` -> rule handles per (family, table, chain), in order."""
    out: dict[tuple[str, str, str], list[int]] = {}
    for item in listing.get("nftables", []):
        r = item.get("rule")
        if r:
            out.setdefault((r["family"], r["table"], r["chain"]), []).append(int(r["handle"]))
    return out


# (family, table, handle) -> "file:line" of each rule, and (family, table, chain) -> its policy's
SourceMap = tuple[dict[tuple[str, str, int | None], str], dict[tuple[str, str, str], str]]


def source_map(text: str, origins: list[str | None], listing: dict[str, Any]) -> SourceMap:
    """(family, table, handle) -> "file:line" of every rule whose chain's rules line up one to
    one with the loaded chain's handles, and (family, table, chain) -> its policy's line.
    `origins[i]` is the "file:line" that rendered line i came from."""
    where, policy = rule_lines(text)
    loaded = handles(listing)
    out: dict[tuple[str, str, int | None], str] = {}

    def origin(i: int) -> str | None:
        return origins[i] if 0 <= i < len(origins) else None

    for key, lines in where.items():
        hs = loaded.get(key, [])
        if len(hs) == len(lines):
            for h, i in zip(hs, lines):
                if o := origin(i):
                    out[(key[0], key[1], h)] = o
    return out, {k: o for k, i in policy.items() if (o := origin(i))}
