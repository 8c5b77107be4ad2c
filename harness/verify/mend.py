"""The smallest change to one rule of the admin's file, as line edits (pure).

A Mend replaces lines of the admin's file as written (each by its index in the original
text): a token of the rule changed, the rule moved above another or into another chain,
its chain's hook or priority changed, a port range in its set widened. Several mends of one
file apply together, to the original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.verify.admin_rules import Chain, nft_chain_top
from harness.verify.nft_model import AdminRule, ChainInfo, Ruleset


@dataclass(frozen=True)
class Mend:
    """A change to one of the admin's rules (or its chain, or its set)."""

    box: str
    what: str  # in the admin's words: "change it to `...`"
    lines: tuple[tuple[int, tuple[str, ...]], ...]  # original line index -> what replaces it
    rule: str = ""  # the rule it mends, "edge.nft:12"

    def apply(self, text: str) -> str:
        return apply_all(text, [self])


def apply_all(text: str, mends: Iterable[Mend]) -> str:
    lines = text.split("\n")
    new: dict[int, tuple[str, ...]] = {}
    for m in mends:
        new.update(m.lines)
    return "\n".join(x for i, l in enumerate(lines) for x in new.get(i, (l,)))


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def token(value: str, variables: dict[str, str], text: str, quote: bool = False) -> str:
    """How the admin's file writes `value`: as its $VARIABLE where the file uses one that holds
    it, else literally (an interface name quoted)."""
    for name, v in sorted(variables.items()):
        if v.strip('"') == value and f"${name}" in text:
            return f"${name}"
    return f'"{value}"' if quote else value


def _spelled(value: str, variables: dict[str, str]) -> list[str]:
    """The ways a line may write `value`: literally, quoted, or as a variable that holds it."""
    return [re.escape(f'"{value}"'), re.escape(value)] + [
        re.escape(f"${n}") for n, v in variables.items() if v.strip('"') == value
    ]


def replace_value(
    rs: Ruleset, box: str, rule: AdminRule, after: str, old: str, new: str, variables: dict[str, str], quote: bool
) -> Mend | None:
    """The rule with the value `old` that follows the keyword `after` (iifname, ip daddr, ...)
    written as `new`."""
    line = rs.text.split("\n")[rule.line]
    pattern = rf"(\b{re.escape(after)}\s+)(?:{'|'.join(_spelled(old, variables))})(?![\w.-])"
    changed, n = re.subn(pattern, lambda m: m.group(1) + token(new, variables, rs.text, quote), line, count=1)
    if not n:
        return None
    return Mend(box, f"change it to `{changed.strip()}`", ((rule.line, (changed,)),))


def move_above(rs: Ruleset, box: str, rule: AdminRule, above: AdminRule) -> Mend:
    """The rule moved up to just above `above` (in the same chain)."""
    lines = rs.text.split("\n")
    moved = _indent(lines[above.line]) + lines[rule.line].strip()
    return Mend(
        box,
        f"move it above {rs.where(above)} (`{above.written}`)",
        ((above.line, (moved, lines[above.line])), (rule.line, ())),
    )


def move_to(rs: Ruleset, box: str, rule: AdminRule, chain: ChainInfo, written: str) -> Mend | None:
    """The rule (written as `written`) moved to the top of `chain`."""
    lines = rs.text.split("\n")
    at = nft_chain_top(lines, Chain(chain.family, chain.table, chain.name))
    if at is None or at[0] == rule.line:
        return None
    pos, indent = at
    return Mend(
        box,
        f"move it to the top of chain {chain.name} (on {chain.hook}) as `{written}`",
        ((pos, (indent + written, lines[pos])), (rule.line, ())),
    )


def chain_header(rs: Ruleset, box: str, chain: ChainInfo, pattern: str, new: str, what: str) -> Mend | None:
    """The chain's `type ... hook ... priority ...` line with `pattern` replaced by `new`."""
    if chain.line is None:
        return None
    line = rs.text.split("\n")[chain.line]
    changed, n = re.subn(pattern, new, line, count=1)
    if not n or changed == line:
        return None
    return Mend(box, f"{what}: `{changed.strip()}`", ((chain.line, (changed,)),))


def widen(rs: Ruleset, box: str, rule: AdminRule, right: object, lo: int, hi: int) -> Mend | None:
    """The port set of `rule` (`right`: its match's right-hand side) made to hold lo-hi: its
    range that overlaps lo-hi widened, or lo-hi added. A named set is changed where it is
    defined; its other rules then see the change too."""
    lines = rs.text.split("\n")
    if isinstance(right, str) and right.startswith("@"):
        at = _set_lines(lines, right[1:])
        s = rs.sets.get((rule.family, rule.table, right[1:]))
        if not at or s is None:
            return None
        elems: list[object] = list(s.get("elem", []))
        where = f"set {right[1:]}"
    else:
        at = [rule.line]
        elems = list(right["set"]) if isinstance(right, dict) and "set" in right else [right]
        where = "it"
    ranges = [
        (a, b)
        for e in elems
        if isinstance(e, dict) and "range" in e
        for a, b in [e["range"]]
        if isinstance(a, int) and isinstance(b, int) and b >= 1024
    ]
    overlapping = [(a, b) for a, b in ranges if a <= hi and lo <= b]
    for a, b in overlapping or ranges[:1]:
        if overlapping:
            new, how = f"{min(a, lo)}-{max(b, hi)}", f"widen {a}-{b} to {min(a, lo)}-{max(b, hi)}"
        else:  # a passive range, but another one: add this one beside it
            bare = not (isinstance(right, dict) and "set" in right) and where == "it"
            new = f"{{ {a}-{b}, {lo}-{hi} }}" if bare else f"{a}-{b}, {lo}-{hi}"
            how = f"add {lo}-{hi}"
        for i in at:
            changed, n = re.subn(rf"(?<![\w$.-]){a}\s*-\s*{b}(?![\w.-])", new, lines[i], count=1)
            if n:
                return Mend(box, f"{how} in {where}: `{changed.strip()}`", ((i, (changed,)),))
    return None


def _set_lines(lines: list[str], name: str) -> list[int]:
    """The lines of the block defining set `name`."""
    for i, l in enumerate(lines):
        if re.match(rf'^\s*set\s+"?{re.escape(name)}"?\s*\{{', l):
            out = [i]
            for j in range(i + 1, len(lines)):
                if lines[j].strip().startswith("}"):
                    break
                out.append(j)
            return out
    return []
