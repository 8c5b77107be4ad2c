"""Prove derived rules by replay: the case must pass through exactly those rules (sufficient)
and, with --prove-minimal, fail without any one of them (minimal).

Rules for a family a box leaves unfiltered (FirewallRules.unfiltered) are proven next to the
box's own ruleset, which stays loaded unchanged: the replay filters that family with only the
derived rules (policy drop, established/related), and the other family as the box always does.

Each firewall's ruleset is swapped atomically (`nft -f` with `flush ruleset`), conntrack
state is flushed so nothing earlier helps, and the original ruleset is restored afterwards.
The lab, the server and the client probe are reused between replays.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from harness.core.case import Case, NetSpec, ServerSpec
from harness.judge.rules import FirewallRules, NotNeeded, Proof, Rule, Signature
from harness.judge.rules.render import nft
from harness.judge.verdict import Verdict

if TYPE_CHECKING:
    from harness.build.middleboxes import Middleboxes

Replay = Callable[[], Verdict]
# What makes two cases' proofs interchangeable: the lab, the server, the proof asked for, the
# rules given and each box's derived rules (FirewallRules.signature)
ProofKey = tuple[NetSpec, ServerSpec, bool, tuple[tuple[str, str], ...], tuple[tuple[str, Signature], ...]]
# a proof kept for later cases: the case that proved it, and each box's proof
Proved = dict[ProofKey, tuple[str, dict[str, Proof]]]


def _private_source(rule: Rule) -> bool:
    try:
        if not (rule.kind == "snat" and ipaddress.ip_network(rule.saddr or "", strict=False).is_private):
            return False
        # the lab's client-side "public" range (Python counts documentation ranges as private),
        # in the rule's own family (core.family.LAB_NETWORKS)
        net = ipaddress.ip_network(rule.saddr or "")
        if isinstance(net, ipaddress.IPv4Network):
            return not net.subnet_of(ipaddress.IPv4Network("203.0.113.0/24"))
        return not net.subnet_of(ipaddress.IPv6Network("2001:db8:113::/64"))
    except ValueError:
        return False


def _short(v: Verdict) -> str:
    return f"{v.stage}: {v.diagnosis}" if v.stage else f"{v.outcome}: {v.diagnosis}"


def _key(case: Case, derived: dict[str, FirewallRules], minimal: bool, given: dict[str, str] | None) -> ProofKey:
    return (
        case.net,
        case.server,
        minimal,
        tuple(sorted((given or {}).items())),
        tuple(sorted((b, fw.signature()) for b, fw in derived.items())),
    )


def share(
    proved: Proved,
    case: Case,
    derived: dict[str, FirewallRules],
    minimal: bool,
    given: dict[str, str] | None = None,
) -> bool:
    """Copy the proof of an earlier case whose derived rules were identical (same lab, same
    server); True when one was found, and no replay is needed."""
    hit = proved.get(_key(case, derived, minimal, given))
    if hit is None:
        return False
    source, proofs = hit
    for box, fw in derived.items():
        fw.proof = replace(proofs[box], replays=0, shared_from=source)
    return True


def remember(
    proved: Proved,
    case: Case,
    derived: dict[str, FirewallRules],
    minimal: bool,
    given: dict[str, str] | None = None,
) -> None:
    """Keep a verified proof for later cases with the same rules."""
    if derived and all(fw.proof.verified and not fw.proof.error for fw in derived.values()):
        proved[_key(case, derived, minimal, given)] = (case.id, {b: fw.proof for b, fw in derived.items()})


def prove(
    boxes: Middleboxes,
    derived: dict[str, FirewallRules],
    *,
    minimal: bool,
    replay: Replay,
    given: dict[str, str] | None = None,
) -> None:
    """Fill in each FirewallRules.proof. `boxes` (middlebox.Middleboxes) swaps rulesets;
    the topology's own rulesets are restored at the end. `given`: nft text per box that stays
    loaded next to the rules under proof (the path's conditions, e.g. ICMP dropped)."""
    texts = {box: nft(fw) for box, fw in derived.items()}

    def passes(candidate: dict[str, str]) -> Verdict:
        for box, text in candidate.items():
            text += (given or {}).get(box, "")
            if derived[box].unfiltered:  # the box's own rules stay; these filter the family it leaves open
                boxes.load_alongside(box, text)
            else:
                boxes.load(box, text)
        for fw in derived.values():
            fw.proof.replays += 1
        return replay()

    try:
        v = passes(texts)
        if v.outcome != "pass":
            for fw in derived.values():
                fw.proof.error = f"replay through only the derived rules: {_short(v)}"
            return
        for fw in derived.values():
            fw.proof.verified = True
        if minimal:
            for box, fw in derived.items():
                _minimise(fw, box, texts, passes)
    except Exception as e:
        for fw in derived.values():
            fw.proof.error = f"replay could not run: {type(e).__name__}: {e}"
            fw.proof.verified = fw.proof.minimal = False
    finally:
        boxes.restore()


def _minimise(fw: FirewallRules, box: str, texts: dict[str, str], passes: Callable[[dict[str, str]], Verdict]) -> None:
    """Drop each rule once; keep it if the case then fails, else list it as not needed."""
    without_it: dict[Rule, str] = {}
    i = 0
    while i < len(fw.rules):
        rule = fw.rules[i]
        if _private_source(rule):
            without_it[rule] = (
                f"kept without a replay: {rule.saddr} is private and not routable "
                "outside, so its traffic must be translated"
            )
            i += 1
            continue
        trial = fw.without(i)
        v = passes({**texts, box: nft(trial)})
        if v.outcome == "pass":
            fw.proof.not_needed.append(NotNeeded(rule, f"the case still passed without it ({_short(v)})"))
            fw.rules.pop(i)
            texts[box] = nft(fw)
        else:
            without_it[rule] = _short(v)
            i += 1
    fw.proof.needed = {idx: without_it.get(r, "") for idx, r in enumerate(fw.rules)}
    fw.proof.by_addressing = [idx for idx, r in enumerate(fw.rules) if _private_source(r)]
    fw.proof.minimal = True
    texts[box] = nft(fw)
