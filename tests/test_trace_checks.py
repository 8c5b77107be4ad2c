"""Diagnoses from the trace, judged offline on Observations recorded in real labs
(tests/fixtures/trace/record.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness.judge import checks
from harness.judge.lost import ordinal
from harness.observe import recording
from harness.verify import plan as verify

FIX = Path(__file__).parent / "fixtures" / "trace"
REPO = Path(__file__).resolve().parents[1]


class _Registers:
    """verify.load registers a plan's topology; recordings of plan runs need it. Nothing
    here loads the ruleset (no kernel), so inspecting it returns nothing."""

    def inspect_ruleset(self, text: str, *loader) -> dict:
        return {}


@pytest.fixture(scope="module", autouse=True)
def plans():
    for plan in (REPO / "plans" / "fixed-port-snat.yaml", FIX / "policy-drop.yaml", FIX / "rule-drop.yaml"):
        verify.load(plan, _Registers())


def judge(name: str):
    return checks.judge(recording.load(FIX / f"{name}.observation.json"))


def test_a_vanished_syn_with_insert_failures_is_a_nat_tuple_clash():
    v = judge("fixed-port-snat")
    assert (v.outcome, v.stage, v.check) == ("fail", "connect", "nat-tuple-clash")
    text = v.diagnosis
    assert text.startswith("NAT could not allocate a source for the 2nd control connection; the first one succeeded")
    assert 'fixed-port-snat.nft:32 `oifname "lan0" ip daddr 10.0.2.2 tcp dport 21 snat ip to 10.0.2.1:16500`' in text
    assert "the 1st control connection (10.0.2.1:16500 <-> 10.0.2.2:21) still holds it" in text
    assert "insert_failed +5" in text
    assert v.evidence.trace[-1].startswith("fw postrouting: accept by fixed-port-snat.nft:32")


def test_a_syn_dropped_by_the_chain_policy_names_chain_table_and_file():
    v = judge("policy-drop")
    assert (v.stage, v.check) == ("data-connect", "dropped-by-policy")
    assert (
        "in chain forward (policy drop) of table inet edge; no rule in policy-drop.nft accepts it: "
        "the first data connection." in v.diagnosis
    )
    assert "fw forward: drop by (policy drop) (policy-drop.nft:13)" in v.evidence.trace


def test_a_syn_dropped_by_a_rule_quotes_the_rule_and_its_line():
    v = judge("rule-drop")
    assert (v.stage, v.check) == ("data-connect", "dropped-by-rule")
    assert (
        "in chain forward of table inet edge by rule rule-drop.nft:17 "
        '`tcp dport 50000-50009 counter drop comment "passive range closed"`'
    ) in v.diagnosis


def test_without_a_trace_the_heuristics_decide_as_before():
    obs = recording.load(FIX / "rule-drop.observation.json")
    untraced = replace(obs, middleboxes={k: replace(m, traced=False, trace=()) for k, m in obs.middleboxes.items()})
    v = checks.judge(untraced)
    assert v.check == "data-port-unreachable"
    assert v.evidence.untraced


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
    ]


def test_verify_names_a_nat_clash_although_nothing_dropped_it():
    """No traced path ends in a drop, yet the trace and the conntrack statistics name the NAT
    rule: verify says so, not "not traced"."""
    from pathlib import Path

    from harness.judge.verdict import Result
    from harness.verify import advise
    from harness.verify.plan import AdminBox, Plan

    obs = recording.load(FIX / "fixed-port-snat.observation.json")
    p = Plan(Path("p.yaml"), "", "plan:x", [], {"fw": AdminBox("fw", Path("fixed-port-snat.nft"), "")}, "server-nat")
    said, chains, traced = advise.stopped_at(Result(obs.case, checks.judge(obs), 1.0), p)
    assert traced and chains == []
    assert said[0].startswith("NAT could not allocate a source for the 2nd control connection")
    assert "fixed-port-snat.nft:32" in said[0] and "insert_failed +5" in said[0]
    assert not any("not traced" in s for s in said)


def test_the_connection_count_follows_what_the_client_saw():
    """The client's own connection list decides which of its connections failed; where the box
    saw more (another session's), both counts are given."""
    obs = recording.load(FIX / "fixed-port-snat.observation.json")
    assert "the 2nd control connection; the first one succeeded:" in checks.judge(obs).diagnosis
    ctl = obs.client.control
    alone = replace(
        obs, client=replace(obs.client, connections=tuple(c for c in obs.client.connections if c is not ctl[0]))
    )
    text = checks.judge(alone).diagnosis
    assert text.startswith(
        "NAT could not allocate a source for the first control connection (the 2nd "
        "control connection through fw; 1 before it, not this client's, got through)"
    )
