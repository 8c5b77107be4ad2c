"""An admin's own ruleset file as text: its syntax, where a rule goes, and edits as diffs (pure).

`verify` changes the admin's file, not a ruleset of its own: a candidate rule is inserted at
the top of the chain concerned (the chain a packet trace named, else the base chain of the
hook), a helper assignment is appended as a table of its own, and the change is shown as a
unified diff that `patch -p0` applies. nftables files and iptables-save files are both handled.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.family import get as family
from harness.judge.rules import Rule
from harness.judge.rules.render import ipt_match, nft_match

IPV4 = family("ipv4")  # admin rulesets are IPv4 (the lab's IPv4 addresses and variables)

NFT, IPTABLES = "nft", "iptables"
# Which hook (and chain type) a derived rule's kind belongs to.
HOOK = {
    "dnat": ("nat", "prerouting"),
    "snat": ("nat", "postrouting"),
    "filter": ("filter", "forward"),
    "input": ("filter", "input"),
}
IPT_CHAIN = {
    "prerouting": "PREROUTING",
    "postrouting": "POSTROUTING",
    "forward": "FORWARD",
    "input": "INPUT",
    "output": "OUTPUT",
}


def syntax(text: str) -> str:
    """iptables-save files have `*table` sections ending in COMMIT; everything else is nft."""
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    if lines and re.fullmatch(r"\*(filter|nat|raw|mangle|security)", lines[0]) and "COMMIT" in lines:
        return IPTABLES
    return NFT


@dataclass(frozen=True)
class Chain:
    """Where a rule goes: a chain of the admin's ruleset (or None: a table of its own)."""

    family: str
    table: str
    name: str
    hook: str | None = None
    policy: str | None = None

    def describe(self) -> str:
        pol = f" (policy {self.policy})" if self.policy else ""
        return f"chain {self.name} of table {self.family} {self.table}{pol}"


def base_chains(doc: dict[str, Any]) -> list[Chain]:
    """The base chains of `nft -j list ruleset`, in listing order."""
    out = []
    for x in doc.get("nftables", []):
        c = x.get("chain")
        if c and c.get("hook"):
            out.append(Chain(c["family"], c["table"], c["name"], c["hook"], c.get("policy")))
    return out


def chain_for(doc: dict[str, Any], kind: str) -> Chain | None:
    """The base chain a rule of `kind` belongs in, by hook (a dropping one first)."""
    ctype, hook = HOOK[kind]
    found = [(c, x) for c, x in ((c, _chain_type(doc, c)) for c in base_chains(doc)) if c.hook == hook and x == ctype]
    found.sort(key=lambda cx: cx[0].policy != "drop")
    return found[0][0] if found else None


def _chain_type(doc: dict[str, Any], chain: Chain) -> str | None:
    for x in doc.get("nftables", []):
        c = x.get("chain")
        if c and (c["family"], c["table"], c["name"]) == (chain.family, chain.table, chain.name):
            ctype: str | None = c.get("type")
            return ctype
    return None


# --- rule text ---------------------------------------------------------------------


def nft_line(rule: Rule, variables: dict[str, str], text: str) -> str:
    action = {"dnat": f"dnat ip to {rule.to}", "snat": "masquerade"}.get(rule.kind, "accept")
    return _with_variables(f"{nft_match(rule, IPV4)} {action}".strip(), variables, text)


def ipt_line(rule: Rule, chain: str) -> str:
    match = ipt_match(rule, IPV4)
    if rule.kind == "dnat":
        return f"-A {chain} {match} -j DNAT --to-destination {rule.to}"
    if rule.kind == "snat":
        return f"-A {chain} {match.replace(' -p tcp', '')} -j MASQUERADE"
    return f"-A {chain} {match} -j ACCEPT"


def _with_variables(line: str, variables: dict[str, str], text: str) -> str:
    """Write the lab's values back as the admin's own variables ($SERVER_IP, ...)."""
    for name, value in sorted(variables.items(), key=lambda kv: -len(kv[1])):
        if f"${name}" in text and value:
            line = re.sub(rf"(?<![\w.$-]){re.escape(value)}(?![\w.-])", f"${name}", line)
    return line


# --- edits -------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """One candidate change to the admin's file."""

    what: str  # in an admin's words
    chain: str  # where it goes, as described to the admin
    text: str  # the whole changed file


def insert_nft(text: str, chain: Chain | None, lines: list[str], what: str) -> Edit:
    """Insert rule lines at the top of `chain` (after its type/policy lines); without a chain
    (or when the block cannot be found), add a table of their own at the end."""
    out = text.splitlines()
    if not (chain and chain.table):
        return add_table(text, what, _own_table(chain, lines, what))
    at = nft_chain_top(out, chain)
    if at is None:  # not written as a block (e.g. `add rule` commands): insert by command
        cmds = "\n".join(f"insert rule {chain.family} {chain.table} {chain.name} {l}" for l in lines)
        return Edit(what, chain.describe(), f"{text.rstrip()}\n# {what}\n{cmds}\n")
    pos, indent = at
    new = out[:pos] + [f"{indent}{l}" for l in lines] + out[pos:]
    return Edit(what, chain.describe(), "\n".join(new) + "\n")


def _own_table(chain: Chain | None, lines: list[str], what: str) -> str:
    hook = chain.hook if chain else "prerouting"
    ctype = "nat" if hook in ("prerouting", "postrouting") else "filter"
    prio = {"prerouting": "dstnat", "postrouting": "srcnat"}.get(hook or "", "filter")
    body = "\n".join(f"        {l}" for l in lines)
    return (
        f"table inet ftps_verify_{hook} {{\n    chain {hook} {{\n"
        f"        type {ctype} hook {hook} priority {prio}; policy accept;\n{body}\n    }}\n}}\n"
    )


def add_table(text: str, what: str, table: str) -> Edit:
    sep = "" if text.endswith("\n") else "\n"
    return Edit(what, "a table of its own", f"{text}{sep}\n# {what}\n{table}")


def helper_table(ports: str = "21") -> str:
    return (
        "table inet ftp_helper {\n"
        '    ct helper ftp-std {\n        type "ftp" protocol tcp;\n        l3proto inet;\n    }\n'
        "    chain prerouting {\n        type filter hook prerouting priority filter; policy accept;\n"
        f'        tcp dport {{ {ports} }} ct helper set "ftp-std"\n    }}\n}}\n'
    )


def nft_chain_top(lines: list[str], chain: Chain) -> tuple[int, str] | None:
    """(line index, indentation) of the first statement after the chain's header lines."""
    in_table = False
    table_re = re.compile(rf"^\s*table\s+(?:{re.escape(chain.family)}\s+)?{re.escape(chain.table)}\s*\{{")
    chain_re = re.compile(rf'^\s*chain\s+"?{re.escape(chain.name)}"?\s*\{{')
    for i, line in enumerate(lines):
        if re.match(r"^\s*table\s", line):
            in_table = bool(table_re.match(line))
        if in_table and chain_re.match(line):
            base = len(line) - len(line.lstrip())
            for j in range(i + 1, len(lines)):
                s = lines[j].strip()
                if not s or s.startswith("#") or re.match(r"(type|policy|comment|priority|devices)\b", s):
                    continue
                if s.startswith("}"):
                    return j, " " * (base + 4)
                return j, lines[j][: len(lines[j]) - len(lines[j].lstrip())]
            return None
    return None


def insert_iptables(text: str, table: str, chain: str, lines: list[str], what: str) -> Edit:
    """Insert `-A chain` lines before the chain's first rule in `*table` (or before COMMIT);
    add the table section when the file has none."""
    out = text.splitlines()
    start = next((i for i, l in enumerate(out) if l.strip() == f"*{table}"), None)
    if start is None:
        policies = {"nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"], "raw": ["PREROUTING", "OUTPUT"]}.get(
            table, ["INPUT", "FORWARD", "OUTPUT"]
        )
        section = [f"*{table}"] + [f":{c} ACCEPT [0:0]" for c in policies] + lines + ["COMMIT"]
        return Edit(what, f"a new *{table} section", "\n".join(out + section) + "\n")
    end = next(i for i in range(start, len(out)) if out[i].strip() == "COMMIT")
    pos = next((i for i in range(start, end) if out[i].split()[:2] == ["-A", chain]), end)
    new = out[:pos] + lines + out[pos:]
    return Edit(what, f"chain {chain} of *{table}", "\n".join(new) + "\n")


def diff(original: str, changed: str, path: str) -> str:
    """A unified diff of the admin's file that `patch -p0` applies (from the directory the
    path is relative to)."""
    return "".join(
        difflib.unified_diff(
            original.splitlines(keepends=True), changed.splitlines(keepends=True), fromfile=path, tofile=path
        )
    )


# --- loading -----------------------------------------------------------------------


def absolute_includes(text: str, base: Path) -> str:
    """Relative `include` paths resolved against the ruleset's own folder (the lab loads a
    copy from elsewhere)."""

    def fix(m: re.Match[str]) -> str:
        p = m.group(2)
        return m.group(0) if p.startswith("/") else f'{m.group(1)}"{(base / p).resolve()}"'

    return re.sub(r'^(\s*include\s+)"([^"]+)"', fix, text, flags=re.M)


def load_error(message: str, own: Path, offset: int = 0) -> str:
    """nft's or iptables-restore's message without echoing the contents of any file: only
    the located error lines are kept (line numbers in the admin's file, `offset` lines of
    variables having been put before it), and an included file's error keeps only where it is."""
    keep = []
    for line in message.splitlines():
        m = re.match(r"^(\S+?):(\d+):[\d-]+: (Error: .*)$", line)
        if m:
            if m.group(1) in ("/dev/stdin", "stdin", "-", str(own)):
                keep.append(f"{own.name}:{int(m.group(2)) - offset}: {m.group(3)}")
            else:
                keep.append(
                    f"{Path(m.group(1)).name}:{m.group(2)}: error in an included file (its contents are not shown)"
                )
        elif line.startswith("In file included from"):
            m = re.match(r"^In file included from (\S+?):(\d+):", line)
            if m and m.group(1) in ("/dev/stdin", "stdin", "-"):
                keep.append(f"(included from {own.name}:{int(m.group(2)) - offset})")
        elif re.match(r"^(Error: |iptables[\w-]*restore: )", line):
            keep.append(line.strip())
    return "\n".join(keep) or "the ruleset did not load (no located error message)"


def _port_in(right: Any, port: int) -> bool:
    """An nft JSON match's right-hand side (a port, a range, a set of them) holds `port`."""
    if isinstance(right, int):
        return right == port
    if isinstance(right, dict) and "range" in right:
        lo, hi = right["range"]
        return isinstance(lo, int) and isinstance(hi, int) and lo <= port <= hi
    if isinstance(right, dict) and "set" in right:
        return any(_port_in(x, port) for x in right["set"])
    return False


def dnat_target(doc: dict[str, Any], port: int) -> str | None:
    """Where the admin's ruleset already port-forwards TCP `port` (the control port) to."""
    for x in doc.get("nftables", []):
        expr = (x.get("rule") or {}).get("expr") or []
        dnat = next((e["dnat"] for e in expr if isinstance(e, dict) and "dnat" in e), None)
        if not isinstance(dnat, dict) or not isinstance(dnat.get("addr"), str):
            continue
        for e in expr:
            m = e.get("match") if isinstance(e, dict) else None
            left = (m or {}).get("left") or {}
            if m and left.get("payload") == {"protocol": "tcp", "field": "dport"} and _port_in(m.get("right"), port):
                return str(dnat["addr"])
    return None
