"""harness/observe/trace.py on real `nft -a monitor trace` output recorded in a lab
(tests/fixtures/trace/record.py re-records it)."""

from __future__ import annotations

import json
from pathlib import Path

from harness.build.backends.readings import conntrack_stats
from harness.build.tracing import trace_table
from harness.core import codec
from harness.observe.middlebox_view import MiddleboxView
from harness.observe.trace import attempts, parse, rule_lines, source_map, stats_delta

FIX = Path(__file__).parent / "fixtures" / "trace"


def _paths(name: str):
    text_lines = json.loads((FIX / f"{name}.rendered.json").read_text())
    text = "\n".join(line for line, _ in text_lines)
    origins = [o for _, o in text_lines]
    sources, policies = source_map(text, origins, json.loads((FIX / f"{name}.listing.json").read_text()))
    return parse("fw", (FIX / f"{name}.trace.log").read_text().splitlines(), sources, policies)


def test_every_packet_is_split_into_its_hooks_with_the_header_seen_there():
    paths = _paths("policy-drop")
    first = [p for p in paths if p.trace_id == paths[0].trace_id]
    assert [p.hook for p in first] == ["prerouting", "forward", "postrouting"]
    assert first[0].flags == "syn" and first[0].dport == 21
    assert (first[0].dst, first[1].dst) == ("203.0.113.10", "10.0.2.2")  # DNAT between the hooks
    assert first[1].by.text == 'iifname "wan0" ip daddr 10.0.2.2 tcp dport 21 ct state new accept'
    assert first[1].by.source == "policy-drop.nft:15"
    assert all(r.table != "fth_trace" for p in paths for r in p.rules)


def test_each_hook_names_the_interfaces_the_packet_came_in_and_goes_out_by():
    first = [p for p in _paths("policy-drop") if p.trace_id == _paths("policy-drop")[0].trace_id]
    assert [(p.hook, p.iif, p.oif) for p in first] == [
        ("prerouting", "wan0", ""),
        ("forward", "wan0", "lan0"),
        ("postrouting", "wan0", "lan0"),
    ]


def test_a_chain_policy_drop_is_the_deciding_rule():
    dropped = [p for p in _paths("policy-drop") if p.verdict == "drop"]
    assert dropped and all(p.hook == "forward" for p in dropped)
    by = dropped[0].by
    assert (by.table, by.chain, by.handle, by.text) == ("edge", "forward", None, "policy drop")
    assert by.source == "policy-drop.nft:13"  # the line declaring the chain's policy
    assert dropped[0].dport in range(50000, 50010)


def test_a_rule_drop_names_its_handle_file_and_line():
    dropped = [p for p in _paths("rule-drop") if p.verdict == "drop"]
    by = dropped[0].by
    assert by.handle == 10 and by.verdict == "drop"
    assert by.source == "rule-drop.nft:17"
    assert by.quote() == 'rule-drop.nft:17 `tcp dport 50000-50009 counter drop comment "passive range closed"`'


def test_attempts_group_a_syn_and_its_retransmissions():
    atts = attempts(_paths("fixed-port-snat"))
    control = [a for a in atts if a.dport == 21]
    assert len(control) == 2  # in this recording the 2nd control connection was the one lost
    assert len({p.trace_id for p in control[1].paths}) == 5  # its SYN was sent 5 times
    assert control[1].stopped is None  # accepted in every hook: it vanished after the rules
    nat = control[1].nat_rule()
    assert nat.text == 'oifname "lan0" ip daddr 10.0.2.2 tcp dport 21 snat ip to 10.0.2.1:16500'
    assert nat.source == "fixed-port-snat.nft:32"


def test_rule_lines_follow_block_and_flat_syntax():
    text = "\n".join(
        [
            "table inet t {",  # 0
            "  chain c {",  # 1
            "    type filter hook input priority 0; policy drop;",  # 2
            "    tcp dport {",  # 3
            "      21, 990",  # 4
            "    } accept  # control",  # 5
            "    ip saddr 10.0.0.1 \\",  # 6
            "      drop",  # 7
            "  }",  # 8
            "}",  # 9
            "add rule inet t c counter",  # 10
        ]
    )
    rules, policy = rule_lines(text)
    assert rules == {("inet", "t", "c"): [3, 6, 10]}
    assert policy == {("inet", "t", "c"): 2}


def test_chains_that_do_not_line_up_get_no_source():
    text = "table inet t {\n chain c {\n  accept\n }\n}"
    listing = {
        "nftables": [
            {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 2}},
            {"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 3}},
        ]
    }
    assert source_map(text, ["f:1"] * 5, listing)[0] == {}


def test_conntrack_statistics_are_summed_over_cpus_and_diffed():
    before = conntrack_stats(
        "cpu=0 found=0 invalid=1 insert_failed=0 drop=0\ncpu=1 found=2 invalid=0 insert_failed=0 drop=0"
    )
    after = conntrack_stats(
        "cpu=0 found=0 invalid=1 insert_failed=4 drop=4\ncpu=1 found=2 invalid=0 insert_failed=1 drop=1"
    )
    assert stats_delta(before, after) == {"insert_failed": 5, "drop": 5}


def test_a_view_survives_a_recording():
    v = MiddleboxView(
        flows=("[NEW] tcp",), rejected=1, traced=True, trace=tuple(_paths("rule-drop")), stats={"drop": 1}
    )
    assert codec.decode(json.loads(json.dumps(codec.encode(v, MiddleboxView))), MiddleboxView) == v


def test_the_trace_table_marks_connection_attempts_on_every_hook():
    t = trace_table()
    for hook in ("prerouting", "input", "forward", "output", "postrouting"):
        assert f"hook {hook} priority -500" in t
    assert t.count("meta nftrace set 1") == 4


def test_named_counters_from_nft_json_and_nothing_from_garbage():
    from harness.build.backends.readings import named_counters

    listing = '{"nftables": [{"metainfo": {}}, {"counter": {"name": "invalid", "packets": 3, "bytes": 180}}]}'
    assert named_counters(listing) == {"invalid": 3}
    assert named_counters("") == named_counters("not json") == named_counters("[1]") == {}
