"""What a middlebox's kernel state reads as: `nft -j list counters` and `conntrack -S` output
turned into numbers (pure; every backend reads the state its own way)."""

from __future__ import annotations

import json
import re


def conntrack_stats(text: str) -> dict[str, int]:
    """`conntrack -S` (one line per CPU) -> counters summed over CPUs."""
    out: dict[str, int] = {}
    for k, v in re.findall(r"(\w+)=(\d+)", text):
        if k != "cpu":
            out[k] = out.get(k, 0) + int(v)
    return out


def named_counters(listing: str | bytes) -> dict[str, int]:
    """`nft -j list counters` -> counter name -> packets ({} for anything else)."""
    try:
        items = json.loads(listing).get("nftables", []) if listing.strip() else []
    except (ValueError, AttributeError):
        return {}
    return {
        i["counter"]["name"]: int(i["counter"].get("packets", 0))
        for i in items
        if isinstance(i, dict) and "counter" in i
    }
