"""Why the admin's own rule did nothing (pure): for a failing case, the rule of the admin's
file that was meant for the traffic that failed, why it had no effect, the evidence, and the
smallest change to that very rule (a Mend, proven later by re-run like any candidate).

Reasoned from the ruleset as nft loaded it (nft_model.py), the case's trace (each SYN's path
per hook, the rule or policy that decided it), the conntrack events (the control connection's
helper, the helper's expectations) and the helper's own log. Kinds:

- helper-not-attached: a `ct helper set` rule, yet the control connection's entry has no
  helper: its chain runs before conntrack (priority < -200), on a hook the connection never
  passes, or its match misses the control connection (port, interface);
- helper-no-expectation: the helper was attached and set up no expectation: TLS, its own
  log, or a 227 that names another address than the connection's;
- wrong-hook: an accept (or port-forward) whose matches cover the packet, in a chain whose
  hook the packet never passed (input for forwarded traffic, output for arriving traffic);
- wrong-interface: a rule missing the packet only by an interface the box does not have;
- shadowed: an accept covering the packet, below the rule that the trace shows dropped it;
- set-lacks-port: a rule missing the packet only by its port set, which names a passive
  range but not the server's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from harness.core.family import parse_227_or_none, same_address
from harness.judge.verdict import Result
from harness.observe.helper_log import HelperDrop
from harness.observe.trace import TracePath
from harness.verify import mend as m
from harness.verify.mend import Mend
from harness.verify.nft_model import CONNTRACK_PRIO, AdminRule, ChainInfo, Packet, Ruleset, field_of, misses

SEES = {
    "prerouting": "sees every packet arriving",
    "input": "sees only packets addressed to the box itself",
    "forward": "sees only packets the box routes on to another host",
    "output": "sees only packets the box sends itself",
    "postrouting": "sees every packet leaving",
}
IFACE = ("iifname", "iif", "oifname", "oif")
PORT = ("tcp dport", "th dport")


@dataclass(frozen=True)
class Intent:
    """One rule of the admin's that was meant for the failing traffic and did nothing."""

    box: str
    kind: str
    where: str  # "edge.nft:12"
    written: str  # the rule as the admin wrote it
    why: str  # "never applies: the packets arrive on wan0 ..."
    evidence: tuple[str, ...] = ()
    mend: Mend | None = None  # the smallest change to that rule (None: none can help)
    cannot: str = ""  # with no mend: why no change to this rule can help

    def headline(self) -> str:
        return f"your rule at {self.where} (`{self.written}`) {self.why}"

    def to_json(self) -> dict[str, Any]:
        return {
            "box": self.box,
            "kind": self.kind,
            "rule": self.where,
            "written": self.written,
            "why": self.why,
            "evidence": list(self.evidence),
            "mend": self.mend.what if self.mend else None,
            "cannot": self.cannot or None,
        }


@dataclass
class Facts:
    """What one box saw of the failing case, and what the case was."""

    box: str
    trace: tuple[TracePath, ...]
    stops: tuple[TracePath, ...] = ()  # the paths that stopped a connection (worker.stops)
    flows: tuple[str, ...] = ()  # conntrack NEW events
    expectations: tuple[str, ...] = ()  # conntrack expectation events
    helper_drops: tuple[HelperDrop, ...] = ()
    interfaces: frozenset[str] = frozenset()
    control_port: int = 21
    passive: tuple[int, int] = (50000, 50009)  # the server's passive range
    tls: str = "none"
    replies: tuple[str, ...] = ()  # the 227/229 replies as the server sent them
    variables: dict[str, str] = field(default_factory=dict)  # the lab's values of the file's $VARIABLES


def facts(result: Result, box: str, variables: dict[str, str]) -> Facts | None:
    """What `box` saw of a failing case (None: the run kept nothing of it)."""
    seen = result.seen.get(box)
    if seen is None:
        return None
    server = result.case.server
    ifaces = {p.ifname for p in result.topology.ports_of(box)} if result.topology else set()
    ifaces |= {b.ifname for b in result.topology.bridges if b.host == box} if result.topology else set()
    ifaces |= {x for p in seen.trace for x in (p.iif, p.oif) if x}
    return Facts(
        box,
        seen.trace,
        tuple(p for p in result.stops if p.box == box),
        seen.flows,
        seen.expectations,
        seen.helper_drops,
        frozenset(ifaces | {"lo"}),
        server.control_port,
        (server.passive.first, server.passive.last),
        server.tls,
        tuple(c.sent for c in result.verdict.evidence.control if c.direction == "server->client"),
        variables,
    )


def find(rs: Ruleset, f: Facts) -> list[Intent]:
    """Every rule of the admin's meant for the failing traffic that did nothing, with why."""
    out = _helper(rs, f) + [i for paths in _failing(f) for i in _packet(rs, f, paths)]
    seen: set[tuple[str, str]] = set()
    unique = []
    for i in out:
        if (i.where, i.kind) not in seen:
            seen.add((i.where, i.kind))
            unique.append(replace(i, mend=replace(i.mend, rule=i.where)) if i.mend else i)
    return unique


# --- the traffic that failed ---------------------------------------------------------


def _by_packet(trace: tuple[TracePath, ...]) -> dict[str, list[TracePath]]:
    out: dict[str, list[TracePath]] = {}
    for p in trace:
        out.setdefault(p.trace_id, []).append(p)
    return out


def _failing(f: Facts) -> list[list[TracePath]]:
    """Each failed connection's first SYN, every hook of it: the SYNs that were dropped and
    those the box took for itself (nothing forwarded them)."""
    packets = _by_packet(f.trace)
    ids = {p.trace_id for p in f.stops} | {
        p.trace_id for p in f.trace if p.hook == "input" and p.syn and p.verdict == "accept"
    }
    out: dict[tuple[str, int, str, int], list[TracePath]] = {}
    for tid, paths in packets.items():
        if tid in ids and paths[0].syn:
            out.setdefault(paths[0].key, paths)
    return list(out.values())


def _hook(paths: list[TracePath], *hooks: str) -> TracePath | None:
    return next((p for p in paths if p.hook in hooks), None)


def _hooks(paths: list[TracePath]) -> str:
    """The hooks a packet passed, in order: "the prerouting and forward hooks"."""
    names = list(dict.fromkeys(p.hook for p in paths))
    return f"the {', '.join(names[:-1])} and {names[-1]} hooks" if len(names) > 1 else f"the {names[0]} hook"


def _describe(p: TracePath) -> str:
    """One hook of a packet's path, as evidence."""
    via = f" in {p.iif}" if p.iif else ""
    via += f", out {p.oif}" if p.oif else ""
    met = "; ".join(
        f"chain {r.chain}: {r.quote()}" + (f" ({r.verdict})" if r.handle is not None else "") for r in p.rules
    )
    return f"trace: {p.box} {p.hook}: the SYN {p.src}:{p.sport} -> {p.dst}:{p.dport}{via}: {met or 'no chain of your ruleset'}"


# --- a SYN that was dropped, or that nothing forwarded ----------------------------------


def _packet(rs: Ruleset, f: Facts, paths: list[TracePath]) -> list[Intent]:
    pre = _hook(paths, "prerouting") or paths[0]
    after = _hook(paths, "forward", "input") or pre
    stop = next((p for p in paths if p.verdict != "accept"), None) or _hook(paths, "input")
    if stop is None:
        return []
    dnat = (after.dst, after.dport) != (pre.dst, pre.dport)
    views = (Packet.of(after, dnat), Packet.of(pre))
    passed = {p.hook for p in paths}
    taken = stop.hook == "input" and not dnat  # nothing forwarded it: a port-forward was meant
    out = []
    for rule in rs.rules:
        if not (rule.verdict == "accept" and stop.verdict != "accept") and not (rule.verdict == "dnat" and taken):
            continue
        hooks = rs.hooks(rule)
        if not hooks or not any(field_of(x) in (*PORT, "ip daddr") for x in rule.matches):
            continue  # unreached, or not naming the traffic (a port or an address)
        own = [views[1]] if hooks <= {"prerouting", "output"} else list(views)
        scored = [(ms, v) for v in own if (ms := misses(rule, v, rs)) is not None]
        if not scored:
            continue
        ms, view = min(scored, key=lambda x: len(x[0]))
        reached = bool(hooks & passed)
        i: Intent | None = None
        if not ms and not reached:
            i = _wrong_hook(rs, f, rule, paths, stop, view, views)
        elif not ms and stop.by is not None:
            i = _shadowed(rs, f, rule, stop)
        elif len(ms) == 1 and reached:
            i = _one_miss(rs, f, rule, ms[0], view, paths)
        if i:
            out.append(i)
    return out


def _wrong_hook(
    rs: Ruleset,
    f: Facts,
    rule: AdminRule,
    paths: list[TracePath],
    stop: TracePath,
    view: Packet,
    views: tuple[Packet, Packet],
) -> Intent | None:
    chain = rs.chains[rule.key]
    hooks = sorted(rs.hooks(rule))
    why = (
        f"never applies: it sits in chain {chain.name} on the {' and '.join(hooks)} hook, which "
        f"{SEES.get(hooks[0], 'this packet never passes')}; this connection passed {_hooks(paths)}"
    )
    target = _target(rs, rule, stop)
    fix: Mend | None = None
    if target is not None:
        written = rule.written
        after = views[0]
        if view is views[1] and target.hook in ("forward", "input", "postrouting") and after.dst != view.dst:
            # matched as it arrived; the target hook sees it after the port forward
            written = _swap(written, view.dst, after.dst, f.variables, rs.text)
        fix = m.move_to(rs, f.box, rule, target, written)
    return Intent(f.box, "wrong-hook", rs.where(rule), rule.written, why, tuple(_describe(p) for p in paths), fix)


def _target(rs: Ruleset, rule: AdminRule, stop: TracePath) -> ChainInfo | None:
    """Where the rule belongs: the chain that dropped the packet (an accept), or a nat chain
    on prerouting (a port-forward); in the rule's own table (its sets and helpers are there)."""
    same = [c for c in rs.chains.values() if (c.family, c.table) == (rule.family, rule.table) and c.hook]
    if rule.verdict == "dnat":
        return next((c for c in same if c.hook == "prerouting" and c.type == "nat"), None)
    if stop.by is not None:
        named = next((c for c in same if c.name == stop.by.chain and c.table == stop.by.table), None)
        if named is not None:
            return named
    return next((c for c in same if c.hook == stop.hook and c.type == "filter"), None)


def _swap(written: str, old: str, new: str, variables: dict[str, str], text: str) -> str:
    names = [re.escape(f"${n}") for n, v in variables.items() if v == old]
    pattern = rf"(?<![\w.$-])(?:{'|'.join([re.escape(old), *names])})(?![\w.-])"
    return re.sub(pattern, m.token(new, variables, text), written, count=1)


def _shadowed(rs: Ruleset, f: Facts, rule: AdminRule, stop: TracePath) -> Intent | None:
    assert stop.by is not None, "the caller checks"
    first = rs.at(stop.by.source)
    if first is None or first.key != rule.key or first.index >= rule.index or stop.by.handle is None:
        return None
    why = f"is never reached: {rs.where(first)} (`{first.written}`) above it in chain {rule.chain} decided first"
    return Intent(
        f.box, "shadowed", rs.where(rule), rule.written, why, (_describe(stop),), m.move_above(rs, f.box, rule, first)
    )


def _one_miss(
    rs: Ruleset, f: Facts, rule: AdminRule, miss: dict[str, Any], view: Packet, paths: list[TracePath]
) -> Intent | None:
    what = field_of(miss)
    right = miss.get("right")
    evidence = tuple(_describe(p) for p in paths[:2])
    if what in IFACE and isinstance(right, str) and right not in f.interfaces:
        seen = view.iif if what.startswith("iif") else view.oif
        how = "arrive on" if what.startswith("iif") else "leave by"
        why = f'never applies: the packets {how} {seen}; {f.box} has no interface "{right}"'
        fix = m.replace_value(rs, f.box, rule, what, right, seen, f.variables, quote=True)
        return Intent(f.box, "wrong-interface", rs.where(rule), rule.written, why, evidence, fix)
    lo, hi = f.passive
    if what in PORT and lo <= view.dport <= hi and _names_a_range(rs, rule, right):
        set_name = f" {right}" if isinstance(right, str) else ""
        why = (
            f"never applies to port {view.dport}: its port set{set_name} lacks it; "
            f"the server's passive range is {lo}-{hi}"
        )
        fix = m.widen(rs, f.box, rule, right, lo, hi)
        if fix is not None and not isinstance(right, str):
            fix = _same_set_too(rs, f, rule, right, fix)
        return Intent(f.box, "set-lacks-port", rs.where(rule), rule.written, why, evidence, fix)
    return None


def _elements(rs: Ruleset, rule: AdminRule, right: Any) -> list[Any]:
    if isinstance(right, str) and right.startswith("@"):
        s = rs.sets.get((rule.family, rule.table, right[1:]))
        return list(s.get("elem", [])) if s else []
    return list(right["set"]) if isinstance(right, dict) and "set" in right else [right]


def _names_a_range(rs: Ruleset, rule: AdminRule, right: Any) -> bool:
    """The port set names a passive range (a range of unprivileged ports), if not this one."""
    return any(
        isinstance(e, dict) and "range" in e and isinstance(e["range"][1], int) and e["range"][1] >= 1024
        for e in _elements(rs, rule, right)
    )


def _same_set_too(rs: Ruleset, f: Facts, rule: AdminRule, right: Any, fix: Mend) -> Mend:
    """The same anonymous set written in other rules of the table (the port-forward and the
    accept): widened there too, in one change."""
    lines = dict(fix.lines)
    also = []
    for r in rs.rules:
        if r is rule or (r.family, r.table) != (rule.family, rule.table):
            continue
        if any(field_of(x) in PORT and x.get("right") == right for x in r.matches):
            more = m.widen(rs, f.box, r, right, *f.passive)
            if more is not None:
                lines.update(more.lines)
                also.append(rs.where(r))
    if not also:
        return fix
    return Mend(fix.box, f"{fix.what}, and the same set at {', '.join(also)}", tuple(sorted(lines.items())))


# --- the FTP helper --------------------------------------------------------------------


def _control(f: Facts) -> list[str]:
    """The control connection's conntrack NEW events at this box."""
    return [
        " ".join(l.split()) for l in f.flows if re.search(rf"\bdport={f.control_port}\b", l.split("[UNREPLIED]")[0])
    ]


def _helper(rs: Ruleset, f: Facts) -> list[Intent]:
    rules = [r for r in rs.rules if r.helper]
    control = _control(f)
    if not rules or not control:
        return []
    syn = next((ps for ps in _by_packet(f.trace).values() if ps[0].syn and ps[0].dport == f.control_port), [])
    data_failed = any(ps[0].dport != f.control_port for ps in _failing(f))
    if not any("helper=" in l for l in control):
        if f.tls != "none" or not syn:
            return []  # under TLS the helper could not read the replies anyway
        return [i for r in rules if (i := _not_attached(rs, f, r, syn, control[0]))]
    if any(e.startswith("[NEW]") for e in f.expectations) or not data_failed:
        return []
    ran = [r for p in syn for x in p.rules if (r := rs.at(x.source)) is not None and r.helper]
    rule = (ran or rules)[0]
    return [i for i in [_no_expectation(rs, f, rule, control[0])] if i]


def _not_attached(rs: Ruleset, f: Facts, rule: AdminRule, syn: list[TracePath], flow: str) -> Intent | None:
    chain = rs.chains[rule.key]
    met = [p for p in syn if any(rs.at(x.source) == rule for x in p.rules)]
    evidence = (f"conntrack: {flow} (no helper=)", *(_describe(p) for p in (met or syn[:1])))
    head = "never attached the FTP helper to the control connection"
    if met:  # it ran, and still no helper: too early for conntrack
        prios = [p for h, p in rs.reached.get(rule.key, set()) if h in ("prerouting", "output")]
        if not prios or min(prios) >= CONNTRACK_PRIO:
            return None
        base = chain if chain.hook else next((c for c in rs.chains.values() if c.hook and c.prio == min(prios)), chain)
        why = (
            f"{head}: its chain {base.name} runs at priority {min(prios)}, before conntrack "
            f"({CONNTRACK_PRIO}) has made the connection's entry, so there is no entry to attach it to"
        )
        fix = m.chain_header(rs, f.box, base, r"priority\s+[^;]+;", "priority filter;", "run its chain after conntrack")
        return Intent(f.box, "helper-not-attached", rs.where(rule), rule.written, why, evidence, fix)
    hooks = rs.hooks(rule)
    passed = {p.hook for p in syn}
    if hooks and not hooks & passed:
        hook = sorted(hooks)[0]
        why = (
            f"{head}: its chain {chain.name} is on the {hook} hook, which {SEES.get(hook, '')}; "
            f"the control connection passed {_hooks(syn)}"
        )
        fix = None
        if chain.hook and all(r.helper for r in rs.rules if r.key == rule.key) and chain.policy != "drop":
            fix = m.chain_header(
                rs, f.box, chain, rf"\bhook\s+{hook}\b", "hook prerouting", "put its chain on prerouting"
            )
        return Intent(f.box, "helper-not-attached", rs.where(rule), rule.written, why, evidence, fix)
    pre = _hook(syn, "prerouting") or syn[0]
    after = _hook(syn, "forward", "input") or pre
    view = Packet.of(pre) if hooks <= {"prerouting", "output"} else Packet.of(after, dnat=after.dst != pre.dst)
    ms = misses(rule, view, rs)
    if not ms or len(ms) != 1:
        return None
    what, right = field_of(ms[0]), ms[0].get("right")
    if what in PORT:
        why = f"{head}: it matches port {_ports(right)}; the control connection is to port {f.control_port}"
        fix = _add_port(rs, f, rule, right)
    elif what in IFACE and isinstance(right, str) and right not in f.interfaces:
        seen = view.iif if what.startswith("iif") else view.oif
        why = f'{head}: the control connection arrives on {seen}; {f.box} has no interface "{right}"'
        fix = m.replace_value(rs, f.box, rule, what, right, seen, f.variables, quote=True)
    else:
        return None
    return Intent(f.box, "helper-not-attached", rs.where(rule), rule.written, why, evidence, fix)


def _ports(right: Any) -> str:
    if isinstance(right, dict) and "set" in right:
        return "{ " + ", ".join(_ports(x) for x in right["set"]) + " }"
    if isinstance(right, dict) and "range" in right:
        return "-".join(map(str, right["range"]))
    return str(right)


def _add_port(rs: Ruleset, f: Facts, rule: AdminRule, right: Any) -> Mend | None:
    """The control port added to the rule's port match: `2121` -> `{ 21, 2121 }`."""
    line = rs.text.split("\n")[rule.line]
    port = str(f.control_port)
    if isinstance(right, int):
        changed, n = re.subn(rf"(\bdport\s+){right}(?!\d)", rf"\g<1>{{ {port}, {right} }}", line, count=1)
    elif isinstance(right, dict) and "set" in right:
        changed, n = re.subn(r"(\bdport\s+\{\s*)", rf"\g<1>{port}, ", line, count=1)
    else:
        return None
    return Mend(f.box, f"change it to `{changed.strip()}`", ((rule.line, (changed,)),)) if n else None


def _no_expectation(rs: Ruleset, f: Facts, rule: AdminRule, flow: str) -> Intent | None:
    head = "attached the FTP helper to the control connection, but it set up no expectation for a data connection"
    evidence = [f"conntrack: {flow}", f"conntrack: no expectation event on {f.box} during the case"]
    evidence += [f"helper log: {d.describe()}" for d in f.helper_drops]
    server_side = re.findall(r"\bsrc=(\S+)", flow.split("[UNREPLIED]")[-1])
    named = [(r, a) for r in f.replies if (a := parse_227_or_none(r)) and a.ip]
    if f.helper_drops:
        d = f.helper_drops[0]
        why, cannot = (
            f'{head}: it dropped the reply {d.line!r} instead ("{d.message}")',
            "the helper could not parse the server's reply; no change to this rule makes it parse it",
        )
    elif f.tls != "none":
        why = (
            f"{head}: the control channel is encrypted ({f.tls} TLS), so the helper cannot read the "
            "227/229 reply that names the data port"
        )
        cannot = "the helper reads plain FTP only: under TLS the passive range must be forwarded and allowed"
    elif named and server_side and not same_address(named[0][1].ip, server_side[0]):
        line, said = named[0]
        evidence.append(f"the server sent: {line}")
        why = (
            f"{head}: the server's 227 names {said.ip}, but the connection's server address at "
            f"{f.box} is {server_side[0]}; the helper ignores a 227 that names another address"
        )
        dialled = re.findall(r"\bdst=(\S+)", flow.split("[UNREPLIED]")[0])
        if dialled and dialled[0] != server_side[0]:  # this box port-forwards the control connection
            cannot = (
                f"the helper opens nothing for {said.ip} (not re-run: the server advertising its own "
                f"address {server_side[0]}, or the passive range forwarded and allowed; the candidates "
                "below are the ones re-run)"
            )
        else:
            cannot = (
                f"the helper opens ports only for a 227 naming {server_side[0]}, the connection's own "
                "address (not re-run: allowing the passive range; the candidates below are the ones re-run)"
            )
    else:
        return None
    return Intent(f.box, "helper-no-expectation", rs.where(rule), rule.written, why, tuple(evidence), None, cannot)
