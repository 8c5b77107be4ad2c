"""harness/run/schedule.py: units go longest first, topologies stay together, ties keep plan order."""

from harness.plan.axes import Axes, plan
from harness.plan.units import lab_key, longest_first, units
from harness.run.schedule import Pending

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


def test_a_worker_takes_the_units_its_lab_serves_then_those_no_other_lab_serves():
    ordered = longest_first(units(plan(Axes(topologies=("server-nat",), families=("ipv4", "ipv6")))))
    todo = Pending(ordered)
    first = todo.take(0)
    assert first == ordered[0]
    second = todo.take(1)  # worker 1 has no lab: not the family worker 0's lab serves
    assert lab_key(second) != lab_key(first)
    assert second == next(g for g in ordered if lab_key(g) != lab_key(first))
    mine = [todo.take(1, lab_key(second)) for _ in range(sum(lab_key(g) == lab_key(second) for g in ordered) - 1)]
    assert all(lab_key(g) == lab_key(second) for g in mine)
    rest = [todo.take(1, lab_key(second)) for _ in range(len(ordered) - 2 - len(mine))]
    assert rest == [g for g in ordered[1:] if lab_key(g) == lab_key(first)]  # then schedule order
    assert todo.take(0, lab_key(first)) is None and todo.take(1) is None
