"""harness.schedule: units go longest first, topologies stay together, ties keep plan order."""
from harness.planning import Axes, plan
from harness.runner import units
from harness.schedule import longest_first

CORE = ("direct", "server-nat", "client-nat")


def test_without_durations_bigger_units_go_first_and_topologies_stay_together():
    cases = plan(Axes(topologies=CORE))
    ordered = longest_first(units(cases))
    assert sorted(c.id for g in ordered for c in g) == sorted(c.id for c in cases)
    topos = [g[0].topology for g in ordered]
    assert topos == sorted(topos, key=topos.index)  # each topology's units are contiguous
    for t in CORE:
        sizes = [len(g) for g in ordered if g[0].topology == t]
        assert sizes == sorted(sizes, reverse=True)
    assert longest_first(units(cases)) == ordered  # deterministic


def test_recorded_durations_put_the_slow_topology_first_and_ties_keep_plan_order():
    cases = plan(Axes(topologies=CORE))
    slow = {c.id: (10.0 if c.topology == "client-nat" else 1.0) for c in cases}
    ordered = longest_first(units(cases), slow)
    assert ordered[0][0].topology == "client-nat"
    rest = [g for g in ordered if g[0].topology != "client-nat"]
    assert rest == [g for g in units(cases) if g[0].topology != "client-nat"]  # equal weights: plan order


def test_slowest_unit_of_a_topology_goes_first_within_it():
    cases = plan(Axes(topologies=("direct",)))
    groups = units(cases)
    last = groups[-1]
    slow = {c.id: (5.0 if c in last else 1.0) for c in cases}
    assert longest_first(groups, slow)[0] == last
