"""Observation -> Verdict, by small named checks.

The evidence is gathered once from the observation (gather.py). Then each check in CHECKS
looks at it in turn; the first that recognises the failure writes the diagnosis from that
evidence. The table's order is the checks' priority. Every check can be tested alone on a
recorded Observation, with no network.
"""
from __future__ import annotations

from typing import Callable, Optional

from harness.judge.verdict import Verdict
from harness.observe.observation import Observation
from harness.judge.checks import addressing, balancer, connect, families, generic, passive, path, peers, tls, tlsfield, trace
from harness.judge.evidence import Evidence, gather
from harness.judge.findings import case_findings_json as case_findings

Check = Callable[[Observation, Evidence], Optional[Verdict]]

CHECKS: list[tuple[str, Check]] = [
    ("harness-error", generic.harness_error),
    ("not-expressible", families.substituted_mode),
    ("ccc-refused", tlsfield.ccc_refused),
    ("helper-reads-after-ccc", tlsfield.helper_reads_after_ccc),
    ("passed", generic.passed),
    ("nat-tuple-clash", trace.nat_tuple_clash),  # the trace: NAT found no free tuple
    ("ipv4-only-line", families.ipv4_only_line),
    ("address-respelled", families.respelled_address),
    ("family-mismatch", families.family_mismatch),
    ("foreign-address", addressing.foreign_address),
    ("asymmetric-route", connect.asymmetric_route),
    ("advertised-address-unreachable", addressing.advertised_unreachable),
    ("balanced-to-another-backend", balancer.balanced_apart),
    ("hairpin-missing", path.hairpin_missing),
    ("passive-port-translated", path.passive_port_translated),
    ("passive-port-outside-range", passive.passive_port_outside_range),
    ("passive-range-not-forwarded", passive.passive_range_not_forwarded),
    # The trace: where a connection stopped. After the specific checks above, whose verdicts
    # it makes more precise (trace.enrich), before the generic ones it replaces.
    ("dropped-by-rule", trace.dropped_by_rule),
    ("dropped-by-policy", trace.dropped_by_policy),
    ("data-port-unreachable", passive.data_port_unreachable),
    ("active-connect-failed", connect.active_connect_failed),
    ("pmtu-black-hole", path.pmtu_black_hole),
    ("control-idle-timeout", path.control_idle_timeout),
    ("client-known-bug", peers.client_known_bug),
    ("ccc-dropped-control", tlsfield.ccc_dropped_control),
    ("data-tls-truncated", tlsfield.data_tls_truncated),
    ("tls-session-not-resumed", tlsfield.tls_session_not_resumed),
    ("session-reuse-required", tls.session_reuse_required),
    ("tls-failed", tls.tls_failed),
    ("control-connect-failed", connect.control_connect_failed),
    ("other-failure", generic.other_failure),  # always decides
]

def names() -> list[str]:
    """Every check name a verdict can carry, in the table's order."""
    return [name for name, _ in CHECKS] + ["not-expressible"]


def judge(obs: Observation) -> Verdict:
    ev = gather(obs) if obs.client is not None else {}
    for name, fn in CHECKS:
        v = fn(obs, ev)
        if v is not None:
            v.check = name
            if found := case_findings(obs.client):
                v.evidence["findings"] = found  # a pass stays a pass and carries them
            return trace.stopped_early(obs, trace.enrich(obs, v))
    raise AssertionError("other-failure always decides")
