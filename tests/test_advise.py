"""verify's proof logic (harness/verify/advise.py) with the runner replaced by a table of outcomes:
what is reported is what passed, a piece that was not needed is dropped, and a case that also
passes through the unchanged file gets no advice. (The real re-runs: tests/test_rulesets.py.)"""

from dataclasses import replace
from pathlib import Path

from rich.console import Console

from harness.build import topologies
from harness.build.topologies import TopologyKind
from harness.build.topology import RuleSet
from harness.core.case import Case, ClientSpec, ServerSpec
from harness.judge.rules import FirewallRules, Rule
from harness.judge.verdict import Result, Verdict
from harness.verify import advise, report
from harness.verify.intent import Intent
from harness.verify.mend import Mend
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
            out.append(
                Result(c, Verdict("pass", None, "") if ok else Verdict("fail", "data-connect", "timed out. more"), 0.1)
            )
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


# --- the admin's own rule, mended first -----------------------------------------------------

FORGOTTEN = 33  # jump-chains.nft: "# passive range: asked the FTP team, no answer yet" (0-based)


def own_rule(p: Plan, monkeypatch, replacement: str) -> Intent:
    """An intent on jump-chains.nft's from_internet chain, whose mend writes `replacement` where
    the admin left a comment (intent.py's reasoning itself: tests/test_intent.py)."""
    line = p.boxes["fw"].text.split("\n")[FORGOTTEN]
    fix = Mend(
        "fw",
        f"change it to `{replacement}`",
        ((FORGOTTEN, (line[: len(line) - len(line.lstrip())] + replacement,)),),
        "jump-chains.nft:34",
    )
    i = Intent("fw", "shadowed", "jump-chains.nft:34", line.strip(), "is never reached: …", ("trace: …",), fix)
    monkeypatch.setattr(advise, "intents", lambda p, r: [i])
    return i


def test_a_proven_change_to_the_admins_own_rule_comes_first_with_the_diff_of_that_rule_only(tmp_path, monkeypatch):
    p, failing, ref = plan(tmp_path)
    i = own_rule(p, monkeypatch, "ip daddr $SERVER_IP tcp dport $PASV_RANGE accept")
    [a] = advise.prove(p, [failing], [ref], runner(p, []))
    assert a.proven[0].pieces == [("fw", i.mend)] and a.mended(i) is a.proven[0]
    diff = a.proven[0].diffs["fw"]
    assert [l for l in diff.splitlines() if l[:1] in "+-" and l[:3] not in ("+++", "---")] == [
        "-        # passive range: asked the FTP team, no answer yet",
        "+        ip daddr $SERVER_IP tcp dport $PASV_RANGE accept",
    ]
    assert a.to_json()["intents"][0]["proven"] is True
    out = shown(p, a)
    assert out.index("your rule at jump-chains.nft:34") < out.index("proven by re-run: change it to")
    assert out.index("proven by re-run: change it to") < out.index("also proven, with rules of their own beside yours")
    patch = report.write_patches(p, [a], tmp_path / "patches")
    assert patch and "ip daddr $SERVER_IP tcp dport $PASV_RANGE accept" in patch[0][0].read_text()


def test_a_change_to_the_admins_rule_that_failed_says_what_its_re_run_showed(tmp_path, monkeypatch):
    p, failing, ref = plan(tmp_path)
    i = own_rule(p, monkeypatch, "ip daddr $SERVER_IP tcp dport 22 accept")
    [a] = advise.prove(p, [failing], [ref], runner(p, []))
    assert a.mended(i) is None and ("fw", i.mend) in a.failed
    assert a.to_json()["intents"][0]["tried"] == "data-connect: timed out"
    out = shown(p, a)
    assert (
        "tried: change it to `ip daddr $SERVER_IP tcp dport 22 accept`; the re-run still failed: data-connect: timed out"
        in out
    )
    assert "proven by re-running this case through your changed file" in out  # the parallel rule


def shown(p: Plan, a: advise.Advice) -> str:
    console = Console(record=True, width=300)
    report.report(p, [a.result], [a], console)
    return console.export_text()


def test_a_candidate_that_failed_here_says_which_other_cases_it_fixed(tmp_path):
    p, failing, _ = plan(tmp_path)
    epsv, pasv = failing, replace(failing, case=replace(failing.case, client=ClientSpec(impl="curl", mode="pasv")))
    helped = advise.Advice(epsv, proven=[advise.Proven({}, [("fw", "helper")])])
    still = advise.Advice(
        pasv, failed={("fw", "helper"): Result(pasv.case, Verdict("fail", "data-connect", "refused. more"), 0.1)}
    )
    console = Console(record=True, width=300)
    report.report(p, [epsv, pasv], [helped, still], console)
    out = console.export_text()
    assert (
        "the FTP helper (a table of its own) was tried: it made explicit epsv pass; here the re-run still failed: data-connect: refused"
        in out
    )
