"""Diagnoses from packet-level evidence (harness/observe/trace.py): which connection of the
session failed, where it stopped and why, quoting the rule, the chain policy or the NAT event.
The checks decline when the lab had no trace, so the heuristics decide there."""

from __future__ import annotations

import re
from dataclasses import replace

from harness.judge.checks import check
from harness.judge.evidence import Evidence
from harness.judge.lost import (
    Lost,
    client_said,
    failure_role,
    lost_attempt,
    ordinal,
    path_evidence,
    role_of,
    stopped_at,
    where,
)
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation
from harness.observe.trace import attempts


@check("dropped-by-rule", 180)
def dropped_by_rule(obs: Observation, ev: Evidence) -> Verdict | None:
    """The trace shows a rule that dropped or rejected the connection."""
    lost = lost_attempt(obs, failure_role(ev), vanished=False) if ev.failure else None
    if not lost:
        return None
    p = stopped_at(lost)
    if not p.by or p.by.handle is None:
        return None
    did = "rejected" if "reject" in p.by.text else "dropped"
    ev = replace(ev, trace=path_evidence(lost))
    text = f"{lost.box} {did} {lost.syn()} {where(p)} by rule {p.by.quote()}: {lost.which()}.{client_said(ev)}"
    return Verdict("fail", lost.stage, text, ev)


@check("dropped-by-policy", 190)
def dropped_by_policy(obs: Observation, ev: Evidence) -> Verdict | None:
    """The trace shows a chain's policy dropped the connection: no rule accepts it."""
    lost = lost_attempt(obs, failure_role(ev), vanished=False) if ev.failure else None
    if not lost:
        return None
    p = stopped_at(lost)
    if not p.by or p.by.handle is not None:
        return None
    file = p.by.source.rsplit(":", 1)[0] if p.by.source else None
    ev = replace(ev, trace=path_evidence(lost))
    text = (
        f"{lost.box} dropped {lost.syn()} in chain {p.by.chain} ({p.by.text}) of table "
        f"{p.by.family} {p.by.table}; no rule {f'in {file} ' if file else 'of that chain '}accepts it: "
        f"{lost.which()}.{client_said(ev)}"
    )
    return Verdict("fail", lost.stage, text, ev)


_NAT_TO = re.compile(r"\b(?:snat|dnat)\b(?: ip6?)? to (\[?[\w.:]+?\]?):(\d+)(?:\s|$)")


@check("nat-tuple-clash", 60)
def nat_tuple_clash(obs: Observation, ev: Evidence) -> Verdict | None:
    """The SYN passed every rule, yet conntrack never entered it and counted an insert
    failure: NAT found no free tuple for it."""
    if not ev.failure:
        return None
    lost = lost_attempt(obs, failure_role(ev), vanished=True) or lost_attempt(obs, None, vanished=True)
    if not lost:
        return None
    failed = {k: v for k, v in lost.view.stats.items() if k in ("insert_failed", "drop") and v}
    nat = lost.attempt.nat_rule()
    if not failed or nat is None:
        return None
    ev = replace(ev, trace=path_evidence(lost), conntrack_stats={lost.box: dict(lost.view.stats)})
    m = _NAT_TO.search(nat.text)
    syns = len({p.trace_id for p in lost.attempt.paths})
    stats = ", ".join(f"{k} +{v}" for k, v in failed.items())
    if m:
        target = f"{m.group(1)}:{m.group(2)}"
        holder = _holder(obs, lost, m.group(1), int(m.group(2)))
        why = (
            f"{nat.source or 'rule'} `{nat.text}` translates every such connection to the one "
            f"tuple {target}, and {holder or 'an earlier connection'} still holds it"
        )
    else:
        why = f"{nat.source or 'rule'} `{nat.text}` found no free tuple for it"
    text = (
        f"NAT could not allocate a {'source' if 'snat' in nat.text or 'masquerade' in nat.text else 'destination'} "
        f"for {lost.which()}: {why}. {lost.box} accepted {lost.syn()} in every chain, "
        f"then conntrack dropped it ({syns} SYN{'s' if syns != 1 else ''}, no conntrack entry; "
        f"conntrack statistics on {lost.box}: {stats}).{client_said(ev)}"
    )
    return Verdict("fail", lost.stage, text, ev)


def _holder(obs: Observation, lost: Lost, addr: str, port: int) -> str | None:
    """The latest earlier connection whose conntrack entry uses addr:port on its reply side."""
    atts = [a for a in attempts(lost.view.trace) if role_of(obs, a) == lost.role]
    for line in reversed(lost.view.flows):
        kv = re.findall(r"(src|dst|sport|dport)=(\S+)", line)
        if len(kv) < 8:
            continue
        orig, reply = dict(kv[:4]), dict(kv[4:8])
        if (reply.get("dst"), reply.get("dport")) == (addr, str(port)) or (reply.get("src"), reply.get("sport")) == (
            addr,
            str(port),
        ):
            for i, a in enumerate(atts):
                if (a.src, str(a.sport)) == (orig.get("src"), orig.get("sport")) and a != lost.attempt:
                    return (
                        f"the {ordinal(i + 1)} {lost.role} connection "
                        f"({reply['dst']}:{reply['dport']} <-> {reply['src']}:{reply['sport']})"
                    )
    return None
