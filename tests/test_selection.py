"""Case selection, sharding, comparison, merge and the --fail-on gates, on a recorded
results.json (tests/fixtures/results/, from a real server-nat run)."""

import copy
import json
import shlex
from pathlib import Path

import pytest

from harness.core.case import NetSpec, PassiveRange
from harness.core.program import program
from harness.plan import shard
from harness.plan.axes import Axes, plan
from harness.plan.selection import SelectionError, matches, parse_id, rerun_command, select
from harness.plan.units import units
from harness.report import compare, gates, merge, results

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "server-nat-explicit.json"
CORE = ("direct", "server-nat", "server-nat-alg", "client-nat", "client-nat-alg")


def doc() -> dict:
    return json.loads(FIXTURE.read_text())


def write(tmp_path: Path, name: str, d: dict) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(d))
    return p


@pytest.mark.parametrize("net", [NetSpec(), NetSpec(PassiveRange(50000, 50004)), NetSpec(forward_none=True)])
def test_every_planned_case_is_rebuilt_from_its_id(net):
    cases = plan(
        Axes(
            topologies=("direct", "server-nat"),
            servers=("pyftpdlib", "vsftpd"),
            clients=("ftplib", "curl"),
            permit_foreign=("on", "off"),
            reuse=("default", "off"),
            passive=PassiveRange(50010, 50020),
            net=net,
            busy=2,
            families=("ipv4", "ipv6"),
        )
    )
    assert any(c.id.endswith("/ipv6") for c in cases)
    assert cases and all(parse_id(c.id) == c for c in cases)


@pytest.mark.parametrize(
    "bad, says",
    [
        ("server-nat/pyftpdlib", "expected topology/server/client"),
        ("mars/pyftpdlib/ftplib/explicit/pasv/trust/masq-off", "unknown topology 'mars'"),
        ("server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off/frobnicate", "unknown part 'frobnicate'"),
        ("server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off/range-9-1", "range"),
    ],
)
def test_a_bad_case_id_says_which_part_is_wrong(bad, says):
    with pytest.raises(SelectionError, match=says):
        parse_id(bad)


def test_k_is_a_substring_or_a_glob():
    cid = "server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off"
    assert matches(cid, "pasv/trust") and matches(cid, "server-nat/*/masq-off")
    assert not matches(cid, "server-nat/*/masq-on") and not matches(cid, "epsv")
    planned = plan(Axes(topologies=CORE))
    picked = select(planned, patterns=["*/pasv/trust/masq-off"])
    assert len(picked) == 15 and all(c.client.pasv_address == "trust" for c in picked)


def test_case_ids_replace_the_axes_and_the_rerun_line_names_the_case():
    cid = "client-nat/vsftpd/curl/implicit/eprt/n-a/masq-on/busy-2"
    (case,) = select(plan(Axes(topologies=("direct",))), ids=[cid])
    assert case.id == cid and rerun_command(case) == shlex.join([*program(), "matrix", "--case", cid])


def test_shards_are_whole_units_cover_the_plan_once_and_do_not_change():
    cases = plan(Axes(topologies=CORE))
    parts = shard.split(cases, 3)
    assert sorted(c.id for p in parts for c in p) == sorted(c.id for c in cases)
    unit_of = {c.id: i for i, u in enumerate(units(cases)) for c in u}
    for p in parts:
        assert all(
            sum(unit_of[c.id] == unit_of[x.id] for x in p) == sum(unit_of[c.id] == unit_of[x.id] for x in cases)
            for c in p
        )  # no unit is split
        assert [c.id for c in p] == [c.id for c in cases if c in p]  # plan order
    assert [len(p) for p in parts] == [50, 50, 50]
    assert shard.split(cases, 3) == parts


def test_shards_balance_by_recorded_durations():
    cases = plan(Axes(topologies=CORE))
    slow = {c.id: (10.0 if c.topology == "direct" else 1.0) for c in cases}
    parts = shard.split(cases, 4, slow)
    assert [sum(slow[c.id] for c in p) for p in parts] == [105.0] * 4
    assert [len(p) for p in parts] == [15, 15, 60, 60]  # by time, not count


def test_more_shards_than_units_leaves_some_empty():
    cases = plan(Axes(topologies=("direct",), tls=("none",), masquerade=("off",)))
    assert [len(p) for p in shard.split(cases, 3)] == [5, 0, 0]


def test_shard_text_is_checked():
    assert str(shard.Shard.parse("2/4")) == "2/4"
    for bad in ("0/3", "4/3", "x", "1/"):
        with pytest.raises(ValueError):
            shard.Shard.parse(bad)


def test_compare_reports_changes_and_a_regression(tmp_path):
    old = doc()
    new = copy.deepcopy(old)
    passing = next(c for c in new["cases"] if c["outcome"] == "pass")
    passing.update(outcome="fail", stage="data-connect", check="advertised-address-unreachable")
    gone = new["cases"].pop()
    changes = compare.compare(write(tmp_path, "old.json", old), write(tmp_path, "new.json", new))
    kinds = {c.id: c.kind for c in changes}
    assert kinds == {passing["id"]: "changed", gone["id"]: "removed"}
    assert [c.id for c in changes if c.regression] == [passing["id"]]
    assert compare.as_json(changes)["regressions"] == 1
    assert compare.compare(FIXTURE, FIXTURE) == []


def test_results_json_reads_back_into_the_same_results():
    rf = results.load(FIXTURE)
    assert [r.case.id for r in rf.results] == [c["id"] for c in doc()["cases"]]
    from harness.report.jsonfile import case_json

    for r, c in zip(rf.results, doc()["cases"]):
        assert dict(case_json(r), order=c["order"]) == c


def test_merge_puts_parts_back_in_plan_order_and_refuses_gaps(tmp_path):
    d = doc()
    a, b = copy.deepcopy(d), copy.deepcopy(d)
    a["cases"], b["cases"] = d["cases"][1::2], d["cases"][0::2]
    a["shard"], b["shard"] = "1/2", "2/2"
    got, meta, order, _ = merge.merge([write(tmp_path, "a.json", a), write(tmp_path, "b.json", b)])
    assert [r.case.id for r in got] == [c["id"] for c in d["cases"]] and order == list(range(len(got)))
    assert meta["shard"] is None and meta["planned"] == meta["plan_total"] == len(got)
    with pytest.raises(SelectionError, match="is a part missing"):
        merge.merge([write(tmp_path, "a.json", a)])
    with pytest.raises(SelectionError, match="in both"):
        merge.merge([write(tmp_path, "a.json", a), write(tmp_path, "a2.json", a)])
    stopped = dict(copy.deepcopy(b), interrupted=True)
    with pytest.raises(SelectionError, match="interrupted"):
        merge.merge([write(tmp_path, "a.json", a), write(tmp_path, "s.json", stopped)])
    other = copy.deepcopy(b)
    other["axes"]["tls"] = ["none"]
    with pytest.raises(SelectionError, match="not parts of one run"):
        merge.merge([write(tmp_path, "a.json", a), write(tmp_path, "o.json", other)])


def test_merge_drops_shard_options_from_the_command_line():
    assert (
        merge._unsharded(
            "ftps-harness matrix --shard 2/4 --durations old.json --jobs 2 --report-dir p2", Path("reports")
        )
        == "ftps-harness matrix --jobs 2 --report-dir reports"
    )


def test_fail_on_gates_include_the_stricter_ones():
    rs = results.load(FIXTURE).results
    fails = [r for r in rs if r.verdict.outcome == "fail"]
    assert fails and gates.tripped(rs, "error") == []
    assert gates.tripped(rs, "fail") == fails
    assert (
        set(map(id, gates.tripped(rs, "fail")))
        <= set(map(id, gates.tripped(rs, "weakened")))
        <= set(map(id, gates.tripped(rs, "finding")))
    )
