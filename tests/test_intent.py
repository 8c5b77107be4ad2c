"""Why the admin's own rule did nothing (harness/verify/intent.py), reasoned over recorded data:
each corpus ruleset's real run (tests/fixtures/intent/NAME/: the observation and nft's JSON of
the file; record.py re-records them), and synthetic rulesets as nft loaded them with traces
written by hand. Each kind names the rule by file:line, says why, and mends that very rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.judge import checks
from harness.judge.verdict import Result
from harness.observe import recording
from harness.observe.trace import TracePath, TraceRule
from harness.run.worker import stops
from harness.verify import intent, mend, nft_model

FIX = Path(__file__).parent / "fixtures" / "intent"
RULESETS = Path(__file__).parent / "rulesets"
LAB = {
    "OUTSIDE_IF": '"wan0"',
    "INSIDE_IF": '"lan0"',
    "PUBLIC_IP": "203.0.113.10",
    "SERVER_IP": "10.0.2.2",
    "INSIDE_NET": "10.0.2.0/24",
}


def recorded(name: str, tls: str | None = None) -> tuple[str, list[intent.Intent]]:
    """The corpus file's text and what intent.find says of its recorded failing case."""
    text = (RULESETS / f"{name}.nft").read_text()
    rs = nft_model.ruleset(json.loads((FIX / name / "fw.nft.json").read_text()), text, f"{name}.nft")
    [path] = [f for f in sorted((FIX / name).glob("*__*.json")) if tls is None or f"__{tls}__" in f.name]
    obs = recording.load(path)
    r = Result(obs.case, checks.judge(obs), 0.0, stops=stops(obs), seen=dict(obs.middleboxes), topology=obs.topology)
    facts = intent.facts(r, "fw", LAB)
    assert facts is not None
    return text, intent.find(rs, facts)


def changed(text: str, m: mend.Mend | None) -> tuple[list[str], list[str]]:
    """(lines removed, lines added) by a mend, stripped."""
    assert m is not None
    before, after = text.split("\n"), m.apply(text).split("\n")
    return [l.strip() for l in before if l not in after], [l.strip() for l in after if l not in before]


# --- the corpus, as real runs saw it --------------------------------------------------


def test_a_helper_assigned_before_conntrack_is_named_and_its_chain_runs_after_it():
    text, [i] = recorded("helper-raw-priority")
    assert (i.kind, i.where) == ("helper-not-attached", "helper-raw-priority.nft:15")
    assert "runs at priority -300, before conntrack (-200)" in i.why
    assert any(e.startswith("conntrack: [NEW]") and "dport=21" in e and "(no helper=)" in e for e in i.evidence)
    assert any("ct helper set" in e and "(continue)" in e for e in i.evidence)  # the trace shows it ran
    assert changed(text, i.mend) == (
        ["type filter hook prerouting priority raw; policy accept;"],
        ["type filter hook prerouting priority filter; policy accept;"],
    )


def test_a_helper_on_another_port_gets_the_control_port_added():
    text, [i] = recorded("helper-port-2121")
    assert (i.kind, i.where) == ("helper-not-attached", "helper-port-2121.nft:14")
    assert "it matches port 2121; the control connection is to port 21" in i.why
    assert changed(text, i.mend) == (
        ['tcp dport 2121 ct helper set "ftp-alt"'],
        ['tcp dport { 21, 2121 } ct helper set "ftp-alt"'],
    )


def test_a_helper_that_cannot_read_tls_is_explained_and_left_alone():
    _, [i] = recorded("helper-under-tls", "explicit")
    assert (i.kind, i.where) == ("helper-no-expectation", "helper-under-tls.nft:16")
    assert "the control channel is encrypted (explicit TLS)" in i.why
    assert any("helper=ftp" in e for e in i.evidence)
    assert "no expectation event" in " ".join(i.evidence)
    assert i.mend is None and "plain FTP only" in i.cannot


def test_a_helper_given_a_227_for_another_address_is_explained():
    _, [i] = recorded("helper-under-tls", "none")
    assert i.kind == "helper-no-expectation"
    assert "the server's 227 names 203.0.113.10, but the connection's server address at fw is 10.0.2.2" in i.why
    assert any(e.startswith("the server sent: 227 ") for e in i.evidence)
    assert i.mend is None and "not re-run: the server advertising its own address" in i.cannot


def test_a_port_forward_on_an_interface_the_box_lacks_gets_the_one_it_has():
    text, [i] = recorded("dnat-wrong-iif")
    assert (i.kind, i.where) == ("wrong-interface", "dnat-wrong-iif.nft:9")
    assert i.why == 'never applies: the packets arrive on wan0; fw has no interface "eth0"'
    assert i.headline().startswith('your rule at dnat-wrong-iif.nft:9 (`iifname "eth0" ip daddr $PUBLIC_IP')
    assert any(e.startswith("trace: fw prerouting:") and "in wan0" in e for e in i.evidence)
    removed, added = changed(text, i.mend)
    assert removed == ['iifname "eth0" ip daddr $PUBLIC_IP tcp dport { 21, 50000-50009 } dnat ip to $SERVER_IP']
    assert added == ["iifname $OUTSIDE_IF ip daddr $PUBLIC_IP tcp dport { 21, 50000-50009 } dnat ip to $SERVER_IP"]


def test_an_accept_on_input_for_forwarded_traffic_moves_to_forward_with_the_address_after_dnat():
    text, [i] = recorded("input-for-forwarded")
    assert (i.kind, i.where) == ("wrong-hook", "input-for-forwarded.nft:22")
    assert "on the input hook, which sees only packets addressed to the box itself" in i.why
    assert "passed the prerouting and forward hooks" in i.why
    removed, added = changed(text, i.mend)
    assert removed == ["iifname $OUTSIDE_IF ip daddr $PUBLIC_IP tcp dport 50000-50009 accept"]
    assert added == ["iifname $OUTSIDE_IF ip daddr $SERVER_IP tcp dport 50000-50009 accept"]
    lines = i.mend.apply(text).split("\n")
    assert lines.index("        " + added[0]) == lines.index("    chain forward {") + 2  # top of forward


def test_an_accept_below_the_rule_that_rejected_moves_above_it():
    text, [i] = recorded("shadowed-accept")
    assert (i.kind, i.where) == ("shadowed", "shadowed-accept.nft:23")
    assert "shadowed-accept.nft:22 (`iifname $OUTSIDE_IF counter reject with tcp reset`)" in i.why
    assert any("reject with tcp reset` (drop)" in e for e in i.evidence)
    lines = i.mend.apply(text).split("\n")
    accept = "        iifname $OUTSIDE_IF ip daddr $SERVER_IP tcp dport 50000-50009 accept"
    assert lines.index(accept) + 1 == lines.index("        iifname $OUTSIDE_IF counter reject with tcp reset")
    assert len(lines) == len(text.split("\n"))


def test_a_named_set_that_lacks_the_servers_range_is_widened_where_it_is_defined():
    text, [i] = recorded("set-lacks-port")
    assert (i.kind, i.where) == ("set-lacks-port", "set-lacks-port.nft:15")
    assert "its port set @ftp_ports lacks it; the server's passive range is 50000-50099" in i.why
    assert changed(text, i.mend) == (["elements = { 21, 50000-50009 }"], ["elements = { 21, 50000-50099 }"])


def test_the_json_names_the_rule_the_reason_and_the_change():
    _, [i] = recorded("dnat-wrong-iif")
    d = i.to_json()
    assert d["rule"] == "dnat-wrong-iif.nft:9" and d["kind"] == "wrong-interface"
    assert d["mend"].startswith("change it to `iifname $OUTSIDE_IF")


# --- synthetic rulesets as nft loaded them, traces written by hand -------------------------


def synthetic(name: str) -> tuple[str, nft_model.Ruleset]:
    text = (FIX / "synthetic" / f"{name}.nft").read_text()
    return text, nft_model.ruleset(json.loads((FIX / "synthetic" / f"{name}.json").read_text()), text, f"{name}.nft")


def hop(
    hook: str, src: str, sport: int, dst: str, dport: int, *, tid: str = "1", by: TraceRule | None = None
) -> TracePath:
    iif, oif = {"prerouting": ("wan0", ""), "input": ("wan0", ""), "forward": ("wan0", "lan0")}[hook]
    verdict = "drop" if by is not None and by.verdict == "drop" else "accept"
    return TracePath("fw", tid, hook, "tcp", src, sport, dst, dport, "syn", (by,) if by else (), verdict, by, iif, oif)


def forwarded(dport: int, drop: TraceRule | None = None, tid: str = "1") -> tuple[TracePath, ...]:
    return (
        hop("prerouting", "203.0.113.100", 40000, "203.0.113.10", dport, tid=tid),
        hop("forward", "203.0.113.100", 40000, "10.0.2.2", dport, tid=tid, by=drop),
    )


POLICY_DROP = TraceRule("inet", "edge", "forward", None, "policy drop", "drop")
CONTROL = (
    "[NEW] tcp      6 120 SYN_SENT src=203.0.113.100 dst=203.0.113.10 sport=39000 dport=21 [UNREPLIED] "
    "src=10.0.2.2 dst=203.0.113.100 sport=21 dport=39000"
)
IFACES = frozenset({"wan0", "lan0", "lo"})


def data_failed(trace: tuple[TracePath, ...]) -> tuple[TracePath, ...]:
    return (*forwarded(21, tid="c"), *trace)


def test_a_helper_on_the_input_hook_of_a_forwarding_box_gets_its_chain_on_prerouting():
    text, rs = synthetic("helper-input")
    trace = data_failed(forwarded(50003, POLICY_DROP))
    [i] = intent.find(rs, intent.Facts("fw", trace, trace[-1:], (CONTROL,), interfaces=IFACES))
    assert (i.kind, i.where) == ("helper-not-attached", "helper-input.nft:10")
    assert "is on the input hook, which sees only packets addressed to the box itself" in i.why
    assert changed(text, i.mend) == (
        ["type filter hook input priority filter; policy accept;"],
        ["type filter hook prerouting priority filter; policy accept;"],
    )


def test_a_helper_on_an_interface_the_box_lacks_gets_the_one_the_control_connection_came_in_by():
    text, rs = synthetic("helper-iif")
    trace = data_failed(forwarded(50003, POLICY_DROP))
    [i] = intent.find(rs, intent.Facts("fw", trace, trace[-1:], (CONTROL,), interfaces=IFACES))
    assert i.kind == "helper-not-attached" and 'fw has no interface "eth0"' in i.why
    assert changed(text, i.mend)[1] == ['iifname "wan0" tcp dport 21 ct helper set "ftp-std"']


def test_an_attached_helper_that_expected_the_data_connection_is_not_blamed():
    _, rs = synthetic("helper-iif")
    trace = data_failed(forwarded(50003, POLICY_DROP))
    expect = ("[NEW] proto=6 src=203.0.113.100 dst=203.0.113.10 sport=0 dport=50003 helper=ftp",)
    facts = intent.Facts("fw", trace, trace[-1:], (CONTROL + " helper=ftp",), expect, interfaces=IFACES)
    assert intent.find(rs, facts) == []


def test_a_port_forward_on_output_moves_to_the_prerouting_nat_chain():
    text, rs = synthetic("dnat-output")
    trace = (
        hop("prerouting", "203.0.113.100", 40000, "203.0.113.10", 50003),
        hop("input", "203.0.113.100", 40000, "203.0.113.10", 50003),
    )
    [i] = intent.find(rs, intent.Facts("fw", trace, interfaces=IFACES))
    assert (i.kind, i.where) == ("wrong-hook", "dnat-output.nft:10")
    assert "on the output hook, which sees only packets the box sends itself" in i.why
    lines = i.mend.apply(text).split("\n")
    assert (
        lines[lines.index("    chain pre_nat {") + 2].strip()
        == "ip daddr 203.0.113.10 tcp dport 50000-50009 dnat to 10.0.2.2"
    )
    assert sum("dnat to 10.0.2.2" in l for l in lines) == 2  # moved, not copied


def test_the_same_port_set_written_twice_is_widened_in_both_rules():
    text, rs = synthetic("anon-sets")
    trace = (
        hop("prerouting", "203.0.113.100", 40000, "203.0.113.10", 50030),
        hop("input", "203.0.113.100", 40000, "203.0.113.10", 50030),
    )
    [i] = intent.find(rs, intent.Facts("fw", trace, interfaces=IFACES, passive=(50000, 50049)))
    assert (i.kind, i.where) == ("set-lacks-port", "anon-sets.nft:5")
    assert "and the same set at anon-sets.nft:11" in i.mend.what
    _, added = changed(text, i.mend)
    assert [l.count("{ 21, 50000-50049 }") for l in added] == [1, 1]


def test_a_set_naming_another_passive_range_gets_this_one_added():
    text, rs = synthetic("other-range")
    trace = forwarded(50003, POLICY_DROP)
    [i] = intent.find(rs, intent.Facts("fw", trace, trace[-1:], interfaces=IFACES))
    assert i.kind == "set-lacks-port"
    assert changed(text, i.mend)[1] == ["ip daddr 10.0.2.2 tcp dport { 40000-40009, 50000-50009 } accept"]


def test_rules_for_other_traffic_or_that_cannot_be_judged_are_not_meant_for_it():
    """iif "lo", the control port's own accept, a mark (not judged), the inside interface, and an
    interface the box has (wan0 is real: that rule is for other traffic)."""
    _, rs = synthetic("noise")
    trace = forwarded(50003, POLICY_DROP)
    assert intent.find(rs, intent.Facts("fw", trace, trace[-1:], interfaces=IFACES, passive=(50000, 50099))) == []


@pytest.mark.parametrize(
    "match, pkt, want",
    [
        ({"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "wan*"}, {"iif": "wan0"}, True),
        (
            {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [21, 22]}},
            {},
            True,
        ),
        ({"op": ">=", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 1024}, {}, True),
        (
            {
                "op": "==",
                "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                "right": {"prefix": {"addr": "203.0.113.0", "len": 24}},
            },
            {},
            True,
        ),
        ({"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "2001:db8::1"}, {}, False),
        ({"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}, {}, False),
        ({"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}, {"dnat": True}, True),
        ({"op": "==", "left": {"meta": {"key": "mark"}}, "right": 1}, {}, None),
    ],
)
def test_matches_are_judged_for_a_syn_or_left_undecided(match, pkt, want):
    rs = nft_model.ruleset({"nftables": []}, "", "x.nft")
    p = nft_model.Packet(
        **{
            "hook": "forward",
            "iif": "wan0",
            "oif": "lan0",
            "src": "203.0.113.100",
            "sport": 40000,
            "dst": "10.0.2.2",
            "dport": 50003,
            **pkt,
        }
    )
    assert nft_model.holds(match, p, rs, ("inet", "t")) is want


def test_chains_reached_by_jump_goto_or_verdict_map_take_the_hooks_of_their_base_chains():
    doc = {
        "nftables": [
            {"chain": {"family": "inet", "table": "t", "name": "fwd", "type": "filter", "hook": "forward", "prio": 0}},
            {"chain": {"family": "inet", "table": "t", "name": "a"}},
            {"chain": {"family": "inet", "table": "t", "name": "b"}},
            {
                "rule": {
                    "family": "inet",
                    "table": "t",
                    "chain": "fwd",
                    "expr": [
                        {
                            "vmap": {
                                "key": {"meta": {"key": "iifname"}},
                                "data": {"set": [["wan0", {"jump": {"target": "a"}}]]},
                            }
                        }
                    ],
                }
            },
            {"rule": {"family": "inet", "table": "t", "chain": "a", "expr": [{"goto": {"target": "b"}}]}},
        ]
    }
    rs = nft_model.ruleset(doc, "", "x.nft")  # no file to line them up with: reached all the same
    assert rs.reached[("inet", "t", "b")] == {("forward", 0)}


def test_a_host_firewalls_helper_given_a_public_227_asks_for_the_range_not_a_private_address():
    """On the server itself nothing is port-forwarded: the helper would not rewrite a private
    address for the client, so the advice is to allow the range (examples/cloud-path)."""
    _, rs = synthetic("helper-iif")
    flow = (
        "[NEW] tcp      6 120 SYN_SENT src=198.51.100.50 dst=10.30.0.10 sport=34706 dport=21 [UNREPLIED] "
        "src=10.30.0.10 dst=198.51.100.50 sport=21 dport=34706 helper=ftp"
    )
    trace = (hop("input", "198.51.100.50", 40000, "10.30.0.10", 50003, by=POLICY_DROP),)
    facts = intent.Facts(
        "fw", trace, trace, (flow,), interfaces=IFACES, replies=("227 Entering passive mode (203,0,113,40,195,83).",)
    )
    [i] = intent.find(rs, facts)
    assert i.kind == "helper-no-expectation" and "the server's 227 names 203.0.113.40" in i.why
    assert "advertising its own address" not in i.cannot and "not re-run: allowing the passive range" in i.cannot


def test_a_catch_all_accept_on_another_hook_is_not_meant_for_the_traffic():
    text = "table inet edge {\n    chain input {\n        type filter hook input priority filter; policy drop;\n        counter accept\n    }\n}\n"
    doc = {
        "nftables": [
            {
                "chain": {
                    "family": "inet",
                    "table": "edge",
                    "name": "input",
                    "type": "filter",
                    "hook": "input",
                    "prio": 0,
                    "policy": "drop",
                }
            },
            {
                "rule": {
                    "family": "inet",
                    "table": "edge",
                    "chain": "input",
                    "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"accept": None}],
                }
            },
        ]
    }
    rs = nft_model.ruleset(doc, text, "x.nft")
    assert [r.line for r in rs.rules] == [3]
    trace = forwarded(50003, POLICY_DROP)
    assert intent.find(rs, intent.Facts("fw", trace, trace[-1:], interfaces=IFACES)) == []
