"""summary.md fits a ticket whatever the run's size; topologies at a glance; the variants
that passed, from recorded verdicts (tests/fixtures/results/)."""

import itertools
from pathlib import Path

import clients
import servers
from harness.judge.verdict import Result
from harness.plan.axes import Axes, plan
from harness.report import glance, markdown, results

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "server-nat-explicit.json"
CORE = ("direct", "server-nat", "server-nat-alg", "client-nat", "client-nat-alg")


def test_the_summary_of_the_full_peer_cross_product_fits_a_ticket():
    recorded = results.load(FIXTURE).results
    cases = plan(Axes(topologies=CORE, servers=tuple(servers.names()), clients=tuple(clients.names())))
    assert len(cases) >= 2400  # every server x client on the core topologies
    big = [Result(c, r.verdict, r.duration_s) for c, r in zip(cases, itertools.cycle(recorded))]
    text = markdown.summary(big, 600.0)
    assert len(text) <= markdown.LIMIT and "[details.md](details.md)" in text
    assert text.count("\n- ") >= 5  # every topology at a glance
    assert len(markdown.details(big, 600.0)) > markdown.LIMIT  # the detail went there


def test_a_topology_glance_names_what_its_failures_share():
    recorded = results.load(FIXTURE).results
    (g,) = glance.topology_glance(recorded)
    assert g.text == "server-nat: 5/6; fails only pasv/trust with masquerade off"


def test_a_failing_case_links_the_variants_that_passed_in_the_same_run():
    recorded = results.load(FIXTURE).results
    failing = next(r for r in recorded if r.verdict.outcome == "fail")
    found = {v.fix: v.case_id for v in glance.passing_variants(recorded)[failing.case.id]}
    assert found == {
        "masquerade": failing.case.id.replace("masq-off", "masq-on"),
        "epsv": failing.case.id.replace("pasv/trust", "epsv/n-a"),
    }
