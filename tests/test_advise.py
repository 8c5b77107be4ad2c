"""verify's proof logic (harness/verify/advise.py) with the runner replaced by a table of outcomes:
what is reported is what passed, a piece that was not needed is dropped, and a case that also
passes through the unchanged file gets no advice. (The real re-runs: tests/test_rulesets.py.)"""

from dataclasses import replace
from pathlib import Path

from harness.build import topologies
from harness.build.topologies import TopologyKind
from harness.build.topology import RuleSet
from harness.core.case import Case, ClientSpec, ServerSpec
from harness.judge.rules import FirewallRules, Rule
from harness.judge.verdict import Result, Verdict
from harness.verify import advise
from harness.verify.plan import AdminBox, Plan

RULESETS = Path(__file__).parent / "rulesets"


DNAT = Rule("dnat", iif="wan0", daddr="203.0.113.10", dports="50000-50009", to="10.0.2.2")
ALLOW = Rule("filter", iif="wan0", oif="lan0", daddr="10.0.2.2", dports="50000-50009")


def plan(tmp_path) -> tuple[Plan, Result, Result]:
    path = RULESETS / "jump-chains.nft"
    admin = AdminBox(
        "fw",
        path,
        path.read_text(),
        variables={
            "OUTSIDE_IF": '"wan0"',
            "INSIDE_IF": '"lan0"',
            "SERVER_IP": "10.0.2.2",
            "PUBLIC_IP": "203.0.113.10",
            "PASV_RANGE": "50000-50009",
        },
        admin_json={
            "nftables": [
                {
                    "chain": {
                        "family": "inet",
                        "table": "filter",
                        "name": "forward",
                        "type": "filter",
                        "hook": "forward",
                        "policy": "drop",
                    }
                },
                {
                    "chain": {
                        "family": "inet",
                        "table": "filter",
                        "name": "prerouting",
                        "type": "nat",
                        "hook": "prerouting",
                        "policy": "accept",
                    }
                },
            ]
        },
    )

    def build(server, net):  # server-nat, with the admin's file on its firewall
        topo = topologies.build("server-nat", server, net)
        own = RuleSet("jump-chains.nft (your ruleset)", (str(path),), tuple(admin.variables.items()))
        hosts = tuple(replace(h, ruleset=own) if h.name == "fw" else h for h in topo.hosts)
        return replace(topo, hosts=hosts)

    base = TopologyKind("plan:t-advise", "server-nat with jump-chains.nft", build)
    p = Plan(tmp_path / "p.yaml", "", "plan:t-advise", [], {"fw": admin}, "server-nat", workdir=tmp_path, base=base)
    p.register(p.topology, {})
    case = Case(p.topology, ServerSpec(), ClientSpec(impl="curl", mode="epsv", pasv_address=None))
    failing = Result(case, Verdict("fail", "data-connect", "timed out"), 1.0)
    ref = Result(
        replace(case, topology="server-nat"),
        Verdict("pass", None, "ok"),
        1.0,
        rules={"fw": FirewallRules("fw", "server-nat", [DNAT, ALLOW])},
    )
    return p, failing, ref


def runner(p: Plan, unchanged_passes: list[bool]):
    """Candidates pass when their firewall accepts the passive range; the unchanged file
    passes as `unchanged_passes` says, one entry per run."""
    texts = {}

    def run(cases, rules):
        out = []
        for c in cases:
            if c.topology == p.topology:
                ok = unchanged_passes.pop(0) if unchanged_passes else False
            else:
                topo = texts.setdefault(c.topology, p.catalog.build(c.topology, c.server))
                text = Path(topo.middleboxes[0].ruleset.files[0]).read_text()
                ok = "tcp dport $PASV_RANGE accept" in text
            out.append(Result(c, Verdict("pass" if ok else "fail", None, ""), 0.1))
        return out

    return run


def test_only_the_needed_rule_is_reported_in_the_chain_concerned(tmp_path):
    p, failing, ref = plan(tmp_path)
    [a] = advise.prove(p, [failing], [ref], runner(p, []))
    assert [x.pieces for x in a.proven] == [[("fw", ALLOW)]]  # the port forward was not needed
    diff = a.proven[0].diffs["fw"]
    assert "+        iifname $OUTSIDE_IF oifname $INSIDE_IF ip daddr $SERVER_IP tcp dport $PASV_RANGE accept" in diff
    assert diff.startswith("--- ") and "dnat" not in diff


def test_a_case_that_passes_through_the_unchanged_file_gets_no_advice(tmp_path):
    p, failing, ref = plan(tmp_path)
    [a] = advise.prove(p, [failing], [ref], runner(p, [False, True]))
    assert a.unchanged_passed == 1 and a.proven == [] and a.tried == 0


def test_a_pass_in_a_round_where_the_unchanged_file_passed_proves_nothing(tmp_path):
    p, failing, ref = plan(tmp_path)
    # steady twice, then the unchanged file passes beside the first round of candidates
    [a] = advise.prove(p, [failing], [ref], runner(p, [False, False, True]))
    assert a.unchanged_passed == 1 and a.proven == []
