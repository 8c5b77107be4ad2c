"""The lab's own trace table: loaded next to every middlebox's ruleset, it marks connection
attempts with `meta nftrace set 1` so `nft monitor trace` follows them (harness/observe/trace.py
reads what it prints). The admin's tables are never edited."""

from __future__ import annotations

TRACE_TABLE = "fth_trace"
TRACK_TABLE = "fth_track"  # harness/build/tracking.py
HARNESS_TABLES = (TRACE_TABLE, TRACK_TABLE)  # tables the lab adds to a box: never the admin's filtering
HOOKS = ("prerouting", "input", "forward", "output", "postrouting")
# Packets worth following: connection attempts (SYN), their answers (SYN-ACK, RST) and ICMP.
# The trace table runs before conntrack (-200), so it cannot ask for `ct state new`; a TCP
# flag filter keeps bulk data out, so the cost does not grow with transfer sizes.
_MARK = ("tcp flags & (syn | rst) != 0 meta nftrace set 1", "meta l4proto { icmp, ipv6-icmp } meta nftrace set 1")


def trace_table() -> str:
    """The nft text of the lab's own trace table (loaded next to the admin's ruleset)."""
    chains = []
    for hook in HOOKS:
        rules = "".join(f"\n        {r}" for r in _MARK) if hook in ("prerouting", "output") else ""
        chains.append(
            f"    chain {hook} {{\n        type filter hook {hook} priority -500; policy accept;{rules}\n    }}"
        )
    return f"table inet {TRACE_TABLE} {{\n" + "\n".join(chains) + "\n}\n"
