"""Rules for humans: paste-ready nftables, iptables-save, and a plain table (pure)."""

from __future__ import annotations

from harness.core.family import Family
from harness.core.family import get as family
from harness.judge.rules import KINDS, FirewallRules, Rule

CLAMP_NFT = "tcp flags syn tcp option maxseg size set rt mtu"


def rule_family(r: Rule, fam: Family) -> Family:
    """The rule's own family (its addresses'), else `fam`: a translator's rules are IPv6 on
    one side and IPv4 on the other, each matched in its own words in one `table inet`."""
    return family(r.family(fam.name))


def nft_match(r: Rule, fam: Family) -> str:
    fam = rule_family(r, fam)
    parts = []
    if r.iif:
        parts.append(f'iifname "{r.iif}"')
    if r.oif:
        parts.append(f'oifname "{r.oif}"')
    if r.saddr:
        parts.append(fam.match("saddr", r.saddr))
    if r.daddr:
        parts.append(fam.match("daddr", r.daddr))
    if r.dports:
        parts.append(f"{r.proto} dport {r.dports}")
    return " ".join(parts)


def _comment(r: Rule) -> str:
    return ' comment "' + r.why.replace('"', "'")[:120] + '"'


def nft(fw: FirewallRules, header: str = "") -> str:
    """A complete ruleset for `nft -f`: forward policy drop, established/related, the rules."""
    by = {k: [r for r in fw.rules if r.kind == k] for k in KINDS}
    fam = family(fw.family)
    out = [f"# {fw.box} ({fw.topology}): rules derived from observed flows by ftps-harness"]
    out += [f"# {line}" for line in header.splitlines() if line]
    if fw.unfiltered:
        out += [f"# {line}" for line in alongside(fw).splitlines()]
    out += [
        f"table {table_of(fw)} {{",
        "    counter rejected {",
        '        comment "new connections refused"',
        "    }",
        "    counter invalid {",
        '        comment "packets of no known connection"',
        "    }",
    ]
    if by["helper"]:
        out += [
            "",
            "    ct helper ftp-std {",
            '        type "ftp" protocol tcp;',
            f"        l3proto {fam.nft};",
            "    }",
            "",
            "    chain helpers {",
            "        type filter hook prerouting priority filter; policy accept;",
        ]
        out += [f'        {nft_match(r, fam)} ct helper set "ftp-std"{_comment(r)}' for r in by["helper"]]
        out += ["    }"]
    # The NAT chains exist even when empty: the kernel only NATs where a nat chain is hooked,
    # and the helper's pinholes need that to translate data connections.
    out += ["", "    chain prerouting_nat {", "        type nat hook prerouting priority dstnat; policy accept;"]
    out += [f"        {nft_match(r, fam)} dnat {rule_family(r, fam).nft} to {r.to}{_comment(r)}" for r in by["dnat"]]
    out += [
        "    }",
        "",
        "    chain postrouting_nat {",
        "        type nat hook postrouting priority srcnat; policy accept;",
    ]
    out += [f"        {nft_match(r, fam)} masquerade{_comment(r)}" for r in by["snat"]]
    out += ["    }"]
    if by["input"] or fw.guards_input:
        out += [
            "",
            "    chain input {",
            "        type filter hook input priority filter; policy drop;",
            "        ct state established,related accept",
            '        iifname "lo" accept',
        ]
        out += [f"        {nft_match(r, fam)} accept{_comment(r)}" for r in by["input"]]
        out += ["        meta l4proto tcp reject with tcp reset", "    }"]
    out += ["", "    chain forward {", "        type filter hook forward priority filter; policy drop;"]
    # before established: the SYN-ACK is already established
    out += ["        " + " ".join(filter(None, (nft_match(r, fam), CLAMP_NFT))) + _comment(r) for r in by["clamp"]]
    out += ["        ct state established,related accept", "        ct state invalid counter name invalid drop"]
    out += [f"        {nft_match(r, fam)} accept{_comment(r)}" for r in by["filter"]]
    out += [
        '        meta l4proto tcp counter name rejected reject with tcp reset comment "refuse the rest at once"',
        '        counter name rejected reject comment "(the policy would drop it anyway)"',
        "    }",
        "}",
    ]
    return "\n".join(out) + "\n"


def ipt_match(r: Rule, fam: Family) -> str:
    fam = rule_family(r, fam)
    parts = []
    if r.iif:
        parts.append(f"-i {r.iif}")
    if r.oif:
        parts.append(f"-o {r.oif}")
    if r.saddr:
        parts.append(f"-s {r.saddr if '/' in r.saddr else fam.host_prefix(r.saddr)}")
    if r.daddr:
        parts.append(f"-d {r.daddr if '/' in r.daddr else fam.host_prefix(r.daddr)}")
    parts.append(f"-p {r.proto}")
    if r.dports:
        parts.append(f"-m {r.proto} --dport {r.dports.replace('-', ':')}")
    return " ".join(parts)


def _ipt_comment(r: Rule) -> str:
    return ' -m comment --comment "' + r.why.replace('"', "'")[:120] + '"'


def iptables(fw: FirewallRules) -> str:
    """iptables-save format (nft backend or legacy); ip6tables-save for IPv6 rules. A
    translator's rules come in one section per family (iptables cannot mix them)."""
    fams = [fw.family] + sorted({r.family(fw.family) for r in fw.rules} - {fw.family})
    out = [f"# {fw.box} ({fw.topology}): rules derived from observed flows by ftps-harness"]
    if fw.unfiltered:
        loader = family(fw.family).save_command.replace("-save", "-restore")
        out += [f"# {line}" for line in alongside(fw, loader).splitlines()]
    for name in fams:
        # a rule without addresses goes with the case's family (a helper), a clamp with every family
        mine = [r for r in fw.rules if (r.family("") or (name if r.kind == "clamp" else fw.family)) == name]
        if len(fams) > 1:
            out += ["", f"# the {name.replace('ipv', 'IPv')} side"]
        out += _ipt_section(fw, mine, family(name))
    return "\n".join(out) + "\n"


def _ipt_section(fw: FirewallRules, rules: list[Rule], fam: Family) -> list[str]:
    by = {k: [r for r in rules if r.kind == k] for k in KINDS}
    out = [f"# {fam.save_command} format: load with {fam.save_command.replace('-save', '-restore')}"]
    if by["clamp"]:
        out += ["*mangle", ":FORWARD ACCEPT [0:0]"]
        out += [
            f"-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu{_ipt_comment(r)}"
            for r in by["clamp"]
        ]
        out += ["COMMIT"]
    if by["helper"]:
        out += ["*raw", ":PREROUTING ACCEPT [0:0]"]
        out += [f"-A PREROUTING {ipt_match(r, fam)} -j CT --helper ftp{_ipt_comment(r)}" for r in by["helper"]]
        out += ["COMMIT"]
    if by["dnat"] or by["snat"]:
        out += ["*nat", ":PREROUTING ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"]
        out += [
            f"-A PREROUTING {ipt_match(r, fam)} -j DNAT --to-destination {r.to}{_ipt_comment(r)}" for r in by["dnat"]
        ]
        out += [
            f"-A POSTROUTING {ipt_match(r, fam).replace(' -p tcp', '')} -j MASQUERADE{_ipt_comment(r)}"
            for r in by["snat"]
        ]
        out += ["COMMIT"]
    out += ["*filter"]
    if by["input"] or fw.guards_input:
        out += [
            ":INPUT DROP [0:0]",
            "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A INPUT -i lo -j ACCEPT",
        ]
        out += [f"-A INPUT {ipt_match(r, fam)} -j ACCEPT{_ipt_comment(r)}" for r in by["input"]]
        out += ["-A INPUT -p tcp -j REJECT --reject-with tcp-reset"]
    out += [
        ":FORWARD DROP [0:0]",
        "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A FORWARD -m conntrack --ctstate INVALID -j DROP",
    ]
    out += [f"-A FORWARD {ipt_match(r, fam)} -j ACCEPT{_ipt_comment(r)}" for r in by["filter"]]
    out += ["-A FORWARD -p tcp -j REJECT --reject-with tcp-reset", "-A FORWARD -j REJECT", "COMMIT"]
    return out


def table_of(fw: FirewallRules) -> str:
    """`inet ftpfw`; rules for a family the box leaves unfiltered: a table of that family only
    (`ip6 ftpfw_ipv6`), so its drop policy never meets the family the box's own rules filter."""
    return f"{family(fw.family).nft} ftpfw_{fw.family}" if fw.unfiltered else "inet ftpfw"


def alongside(fw: FirewallRules, loader: str = "nft -f") -> str:
    """What an unfiltered family's rules are, and how they go next to the box's own ruleset."""
    fam = fw.family.replace("ipv", "IPv")
    return (
        f"{fw.box} leaves {fam} unfiltered today; these are the rules a filter would need.\n"
        f"Load them next to its own ruleset ({loader}), which stays as it is: they filter {fam} only."
    )


TABLE_HEAD = ("firewall", "kind", "direction", "proto", "from", "to", "ports", "why")


def table_rows(fw: FirewallRules) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for r in fw.rules:
        direction = f"{r.iif or '*'} -> {r.oif or '*'}"
        to = r.daddr or "*"
        if r.kind == "dnat":
            to = f"{r.daddr} => {r.to}"
        elif r.kind == "snat":
            to = "(masquerade)"
        if r.kind == "clamp":
            to = f"(MSS: {CLAMP_NFT})"
        why = r.why + (" [WIDE OPEN]" if r.wide_open else "")
        rows.append((fw.box, r.kind, direction, r.proto, r.saddr or "*", to, r.dports or "*", why))
    return rows


def table(fw: FirewallRules) -> str:
    rows = [TABLE_HEAD] + table_rows(fw)
    widths = [max(len(r[i]) for r in rows) for i in range(len(TABLE_HEAD))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def markdown_table(fw: FirewallRules) -> str:
    rows = table_rows(fw)
    out = ["| " + " | ".join(TABLE_HEAD) + " |", "|" + "---|" * len(TABLE_HEAD)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"
