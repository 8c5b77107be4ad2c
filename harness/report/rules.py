"""Rule sets of passing cases: JSON per case, grouped for the terminal, and rules.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.judge.rules import FirewallRules, Signature
from harness.judge.rules.render import iptables, markdown_table, nft, table
from harness.judge.verdict import Result

if TYPE_CHECKING:
    from rich.console import Console


def groups(results: list[Result]) -> list[tuple[FirewallRules, list[Result]]]:
    """Identical rule sets once each, with the cases they serve (first-seen order)."""
    seen: dict[Signature, tuple[FirewallRules, list[Result]]] = {}
    for r in results:
        for fw in (r.rules or {}).values():
            sig = fw.signature()
            if sig not in seen:
                seen[sig] = (fw, [])
            seen[sig][1].append(r)
    return list(seen.values())


def _status(fw: FirewallRules, cases: list[Result]) -> str:
    ok = all(all(x.proof.verified for x in (c.rules or {}).values()) for c in cases)
    mini = all(all(x.proof.minimal for x in (c.rules or {}).values()) for c in cases)
    return ("verified by replay" if ok else "NOT verified") + (
        ", proven minimal" if mini else ", minimality not proven (--prove-minimal)"
    )


def security(fw: FirewallRules, cases: list[Result]) -> str:
    """The security finding a case's verdict recorded for this firewall, if any."""
    for c in cases:
        u = c.verdict.evidence.unfiltered.get(fw.box)
        if u:
            fam = c.case.net.family.replace("ipv", "IPv")
            own = f"its ruleset has only {', '.join(u.tables) or 'no nft table'}"
            if not fw.rules:
                return (
                    f"SECURITY: {fam} is not filtered on {fw.box}: {own}; no rules could be "
                    "derived: conntrack on it tracked none of these connections."
                )
            return (
                f"SECURITY: {fw.box} leaves {fam} unfiltered today ({own}); these are the rules a "
                f"filter would need: a table of their own next to its ruleset, which stays as it is."
            )
    return ""


def terminal(results: list[Result], console: Console) -> None:
    from rich.padding import Padding
    from rich.text import Text

    gs = groups(results)
    console.print(Text(f"\nFirewall rule sets of the passing cases: {len(gs)} distinct", style="bold"))
    for n, (fw, cases) in enumerate(gs, 1):
        console.print(
            Text(f"\n[{n}] {fw.box} in {fw.topology} — {len(cases)} case(s), {_status(fw, cases)}", style="bold cyan")
        )
        for c in cases[:6]:
            console.print(Text(f"    {c.case.id}"))
        if len(cases) > 6:
            console.print(Text(f"    … and {len(cases) - 6} more"))
        if security(fw, cases):
            console.print(Text(f"    {security(fw, cases)}", style="bold red"))
        console.print(Padding(Text(table(fw)), (0, 0, 0, 4)))
        nn = [x for c in cases for f in (c.rules or {}).values() for x in f.proof.not_needed]
        if nn:
            console.print(Text(f"    not needed (dropped after a replay passed without it): {len(nn)}"))


def markdown(results: list[Result], matrix_md: str, peers_md: str = "") -> str:
    gs = groups(results)
    out = [
        "# Firewall rules per combination",
        "",
        "Each rule set below was derived from the connections the firewall actually saw in a "
        "passing case, then proven by replaying the case through only those rules "
        "(forward policy drop, plus established/related). With `--prove-minimal`, every rule "
        "was also removed once and the case failed without it. For a family a firewall leaves "
        "unfiltered (an IPv4-only ruleset on a dual-stack box), the rules are what a filter of "
        "that family would need, proven next to the firewall's own ruleset, which stays loaded "
        "unchanged.",
        "",
        "## Matrix",
        "",
        matrix_md,
        "",
        *(["## Server × client (cases passed / run)", "", peers_md, ""] if peers_md else []),
        f"## Rule sets ({len(gs)} distinct)",
        "",
    ]
    for n, (fw, cases) in enumerate(gs, 1):
        out += [
            f"### {n}. `{fw.box}` in `{fw.topology}` — {_status(fw, cases)}",
            "",
            f"Serves {len(cases)} case(s):",
            "",
        ]
        out += [f"- `{c.case.id}`" for c in cases]
        out += ["", *([f"**{security(fw, cases)}**", ""] if security(fw, cases) else []), markdown_table(fw)]
        minimal = [c for c in cases if all(x.proof.minimal for x in (c.rules or {}).values())]
        if minimal:
            assert minimal[0].rules is not None, "groups() holds the cases with rules"
            p = minimal[0].rules[fw.box].proof
            out += ["What fails without each rule (first case):", ""]
            out += [f"- rule {i + 1}: {why}" for i, why in sorted(p.needed.items())]
            for x in p.not_needed:
                out += [f"- not needed: `{x.rule.to_json()}` — {x.evidence}"]
            out += [""]
        out += [
            "nftables (`nft -f`):",
            "",
            "```",
            nft(fw).rstrip(),
            "```",
            "",
            "iptables-save:",
            "",
            "```",
            iptables(fw).rstrip(),
            "```",
            "",
        ]
    failed = [r for r in results if r.rules and not all(f.proof.verified for f in r.rules.values())]
    if failed:
        out += ["## Rule sets that did not verify", ""]
        out += [
            f"- `{r.case.id}`: " + "; ".join(f"{b}: {f.proof.error}" for b, f in (r.rules or {}).items())
            for r in failed
        ]
    return "\n".join(out) + "\n"
