"""A family a middlebox leaves unfiltered, and the lab's tracking table for it.

Conntrack only tracks a family in a namespace once a rule asks for connection state in it.
A box whose tables are all of the other family (`table ip` only, on a dual-stack box) neither
filters nor tracks the case's family; the harness then loads a table of its own next to the
box's ruleset that filters nothing and only asks for `ct state`, so conntrack records the
flows the box would have to allow (harness/judge/rules/derive.py). The admin's tables are
never edited; like the trace table, it is reloaded with every ruleset the box gets.
"""

from __future__ import annotations

import re

from harness.build.topology import Middlebox, Topology
from harness.build.tracing import TRACK_TABLE
from harness.core.family import get as family
from harness.core.repo import nat_file

SEES = {"ipv4": ("ip", "inet"), "ipv6": ("ip6", "inet")}  # table families that see a family's packets
_TABLE = re.compile(r"^\s*table\s+(\w+)\s+(\S+)", re.M)
_IPT_TABLE = re.compile(r"^\*(\w+)\s*$", re.M)


def tables(box: Middlebox) -> tuple[str, ...]:
    """The box's own tables as "table FAMILY NAME" (an iptables-save file: iptables-nft-restore
    makes `table ip NAME` of each *NAME section)."""
    if box.ruleset is None:
        return ()
    text = box.ruleset.render(nat_file)
    if box.ruleset.syntax == "iptables":
        found = {f"table ip {n}" for n in _IPT_TABLE.findall(text)}
    else:
        found = {f"table {f} {n}" for f, n in _TABLE.findall(text)}
    return tuple(sorted(found))


def blind(box: Middlebox, fam: str) -> tuple[str, ...] | None:
    """The box's tables when none of them sees family `fam` (it leaves `fam` unfiltered);
    None when one does, or when the box has no ruleset (a plain router, not a firewall)."""
    if box.ruleset is None:
        return None
    own = tables(box)
    return None if any(t.split()[1] in SEES[fam] for t in own) else own


def track_table(fam: str) -> str:
    """A table of `fam` that accepts everything and asks for connection state: conntrack then
    tracks `fam` in the namespace. Priority -300 (raw): before the admin's chains."""
    word = family(fam).nft
    return (
        f"table {word} {TRACK_TABLE} {{\n"
        "    chain forward {\n"
        "        type filter hook forward priority -300; policy accept;\n"
        "        ct state new counter\n"
        "    }\n"
        "}\n"
    )


def tracking(topology: Topology) -> dict[str, str]:
    """box -> the tracking table it needs: boxes that leave the topology's family unfiltered."""
    return {b.name: track_table(topology.family) for b in topology.middleboxes if blind(b, topology.family) is not None}
