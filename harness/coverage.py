"""Does a firewall ruleset (as `nft -j list ruleset` JSON) contain what a proven rule set
needs? Pure analysis, used by `verify` to name what an admin's ruleset is missing.

Port coverage is what matters for FTP: a rule "covers" a needed rule when it sits in a chain
of the right hook, ends in the right action, and its tcp dport match (single port, range,
anonymous or named set, or none at all) includes every needed port.
"""
from __future__ import annotations

from typing import Any

from .rules import Rule

HOOK = {"dnat": "prerouting", "snat": "postrouting", "filter": "forward", "input": "input",
        "helper": "prerouting"}


def _ports(right: Any, sets: dict[str, list[Any]]) -> list[tuple[int, int]]:
    if isinstance(right, int):
        return [(right, right)]
    if isinstance(right, str) and right.startswith("@"):
        return [p for e in sets.get(right[1:], []) for p in _ports(e, sets)]
    if isinstance(right, dict):
        if "range" in right:
            return [(int(right["range"][0]), int(right["range"][1]))]
        if "set" in right:
            return [p for e in right["set"] for p in _ports(e, sets)]
        if "elem" in right:
            return _ports(right["elem"].get("val"), sets)
    return []


def _needed(rule: Rule) -> tuple[int, int] | None:
    if not rule.dports:
        return None
    lo, _, hi = rule.dports.partition("-")
    return int(lo), int(hi or lo)


def _covers(have: list[tuple[int, int]], need: tuple[int, int]) -> bool:
    """Every port of `need` lies in some range of `have`."""
    port = need[0]
    for lo, hi in sorted(have):
        if lo <= port <= hi:
            port = hi + 1
            if port > need[1]:
                return True
    return port > need[1]


def _action(expr: list[dict[str, Any]]) -> str | None:
    for e in expr:
        if "accept" in e:
            return "accept"
        if "dnat" in e:
            return "dnat"
        if "snat" in e or "masquerade" in e:
            return "snat"
        if "ct helper" in e or ("mangle" in e and "ct" in str(e)):
            return "helper"
        if "drop" in e or "reject" in e:
            return "drop"
    return None


def analyse(ruleset: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten the ruleset into (hook, action, ports or None=any, ct-dnat) entries."""
    items = ruleset.get("nftables", [])
    sets = {x["set"]["name"]: x["set"].get("elem", []) for x in items if "set" in x}
    chains = {(x["chain"]["table"], x["chain"]["name"]): x["chain"].get("hook") for x in items if "chain" in x}
    out = []
    for x in items:
        if "rule" not in x:
            continue
        r = x["rule"]
        hook = chains.get((r["table"], r["chain"]))
        ports, ct_dnat, iif, oif, old_only = None, False, None, None, False
        for e in r.get("expr", []):
            m = e.get("match")
            if not m:
                continue
            left = m.get("left", {})
            key = left.get("meta", {}).get("key")
            if key == "iifname":
                iif = m.get("right")
            elif key == "oifname":
                oif = m.get("right")
            if left.get("payload", {}).get("field") == "dport":
                ports = _ports(m.get("right"), sets)
            if left.get("ct", {}).get("key") == "status" and "dnat" in str(m.get("right")):
                ct_dnat = True
            if left.get("ct", {}).get("key") == "state" and "new" not in str(m.get("right")):
                old_only = True  # established/related only: says nothing about new connections
        if old_only:
            continue
        out.append({"hook": hook, "action": _action(r.get("expr", [])), "ports": ports, "ct_dnat": ct_dnat,
                    "iif": iif, "oif": oif})
    return out


def missing(ruleset: dict[str, Any], needed: list[Rule]) -> list[Rule]:
    """The needed rules that nothing in `ruleset` covers."""
    entries = analyse(ruleset)
    dnat_ports = [p for e in entries if e["action"] == "dnat" for p in (e["ports"] or [(1, 65535)])]
    lacking = []
    for rule in needed:
        hook, want = HOOK[rule.kind], ("accept" if rule.kind in ("filter", "input") else rule.kind)
        need = _needed(rule)
        ok = False
        for e in entries:
            if e["hook"] != hook or e["action"] != want:
                continue
            if (e["iif"] and rule.iif and e["iif"] != rule.iif) or (e["oif"] and rule.oif and e["oif"] != rule.oif):
                continue  # another direction
            if e["ct_dnat"] and rule.kind == "filter" and need and _covers(dnat_ports, need):
                ok = True  # "ct status dnat accept" lets every port-forwarded connection through
            elif need is None or e["ports"] is None or _covers(e["ports"], need):
                ok = True
            if ok:
                break
        if not ok:
            lacking.append(rule)
    return lacking
