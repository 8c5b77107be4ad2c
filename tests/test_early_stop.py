"""Failures detected from evidence (harness/run/early_stop.py): on recorded `nft monitor trace`
output, then on real namespaces with the same cases run with and without it."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from harness.observe.helper_log import Reader
from harness.observe.trace import TraceRule, parse
from harness.plan import axes as planning
from harness.run.early_stop import DropWatch, Source, Stop, decisive
from harness.run.execute import execute


def first_drop(box, lines, seen, syns=frozenset()):
    return next((p for p in parse(box, lines) if decisive(p, seen, syns)), None)


FIX = Path(__file__).parent / "fixtures" / "trace"


def _lines(name: str) -> list[str]:
    return (FIX / f"{name}.trace.log").read_text().splitlines()


def test_a_syn_ack_dropped_as_invalid_by_the_firewall_that_never_saw_the_syn_is_decisive():
    p = first_drop("fwb", _lines("asymmetric-synack"), frozenset())
    assert p is not None and p.flags == "syn|ack" and p.hook == "forward"
    assert p.by is not None and p.by.handle == 12 and "ct state invalid" in p.by.text


def test_a_packet_of_a_connection_traced_in_an_earlier_case_is_not_a_reason_to_stop():
    """A server retransmits its SYN-ACK for seconds after the client of the last case gave up."""
    p = first_drop("fwb", _lines("asymmetric-synack"), frozenset())
    assert first_drop("fwb", _lines("asymmetric-synack"), frozenset({p.key})) is None


def test_a_rst_is_decisive_only_as_the_answer_to_a_syn_of_this_session():
    """server-multihomed: the data SYN enters by fwb; the server's RST leaves by fwa, which
    drops it as invalid. Without fwb's SYN the RST could be any connection's teardown."""
    syns = frozenset(p.key for p in parse("fwb", _lines("asymmetric-rst.fwb")) if p.syn)
    p = first_drop("fwa", _lines("asymmetric-rst.fwa"), frozenset(), syns)
    assert p is not None and "rst" in p.flags and p.by is not None and "ct state invalid" in p.by.text
    assert (p.dst, p.dport, p.src, p.sport) in syns
    assert first_drop("fwa", _lines("asymmetric-rst.fwa"), frozenset()) is None
    assert Stop(p, 0.03).describe().startswith("fwa dropped the RST answering the SYN ")


@pytest.mark.parametrize("name", ["rule-drop", "policy-drop"])
def test_a_syn_dropped_by_a_rule_or_a_policy_is_decisive(name):
    p = first_drop("fw", _lines(name), frozenset())
    assert p is not None and p.syn and p.verdict == "drop"


def test_a_reject_or_an_accepted_packet_is_not_waited_on_and_so_never_stopped():
    p = next(p for p in parse("fw", _lines("rule-drop")) if p.verdict == "drop")
    rejecting = replace(p, by=TraceRule("inet", "t", "forward", 9, "reject with tcp reset", "drop"))
    assert decisive(p) and not decisive(rejecting)
    assert not decisive(replace(p, verdict="accept"))
    assert not decisive(replace(p, flags="ack"))


def _feed(path: Path, lines: list[str], delay: float) -> threading.Thread:
    def write() -> None:
        with open(path, "a") as f:
            for line in lines:
                time.sleep(delay)
                f.write(line + "\n")
                f.flush()

    t = threading.Thread(target=write)
    t.start()
    return t


def test_the_watch_interrupts_once_as_the_drop_appears_and_says_what_it_saw(tmp_path):
    log = tmp_path / "fwb.trace.log"
    log.write_text("")
    calls = []
    watch = DropWatch([Source("fwb", log, 0, frozenset())], lambda: calls.append(1) or True, interval=0.01)
    _feed(log, _lines("asymmetric-synack"), 0.01).join()
    deadline = time.monotonic() + 2
    while not calls and time.monotonic() < deadline:
        time.sleep(0.01)
    stop = watch.finish()
    assert calls == [1] and stop is not None
    assert stop.describe().startswith("fwb dropped the SYN-ACK 10.0.2.2:21 -> 203.0.113.100:")
    assert '`ct state invalid counter name "invalid" drop`' in stop.describe()


def test_a_client_that_cannot_be_told_leaves_no_claim_of_an_early_stop(tmp_path):
    log = tmp_path / "fwb.trace.log"
    log.write_text("\n".join(_lines("asymmetric-synack")) + "\n")
    watch = DropWatch([Source("fwb", log, 0, frozenset())], lambda: False, interval=0.01)
    time.sleep(0.1)
    assert watch.finish() is None


def test_lines_before_the_session_began_are_not_read(tmp_path):
    log = tmp_path / "fwb.trace.log"
    log.write_text("\n".join(_lines("asymmetric-synack")) + "\n")
    watch = DropWatch([Source("fwb", log, log.stat().st_size, frozenset())], lambda: True, interval=0.01)
    time.sleep(0.1)
    assert watch.finish() is None


def test_the_helpers_own_words_are_read_from_its_nflog_capture(tmp_path):
    """Recorded in server-nat-alg over IPv6: nf_conntrack_ftp drops every copy of a 227
    reply that holds an IPv6 address."""
    drops = Reader("fw", FIX / "helper-partial-227.nflog.pcap").take()
    assert len(drops) == 6 and len({d.key for d in drops}) == 1
    d = drops[0]
    assert d.message == "nf_ct_ftp: dropping packet: partial matching of `227 '"
    assert (d.src, d.sport) == ("2001:db8:113::10", 21) and d.line.startswith("227 Entering passive mode (2001:db8")
    assert Stop(d, 0.1).describe().startswith("fw's conntrack helper dropped [2001:db8:113::10]:21 -> [")


def test_a_capture_still_being_written_is_read_record_by_record(tmp_path):
    data = (FIX / "helper-partial-227.nflog.pcap").read_bytes()
    part = tmp_path / "fw.helper.pcap"
    part.write_bytes(data[: len(data) - 10])  # the last record half-written
    r = Reader("fw", part)
    assert len(r.take()) == 5
    part.write_bytes(data)
    assert len(r.take()) == 1 and r.take() == []


def test_the_watch_stops_on_a_helper_drop(tmp_path):
    pcap = tmp_path / "fw.helper.pcap"
    pcap.write_bytes((FIX / "helper-partial-227.nflog.pcap").read_bytes())
    trace = tmp_path / "fw.trace.log"
    trace.write_text("")
    watch = DropWatch([Source("fw", trace, 0, frozenset(), pcap, 0)], lambda: True, interval=0.01)
    time.sleep(0.1)
    stop = watch.finish()
    assert stop is not None and "nf_ct_ftp" in stop.describe()


# --- real runs ------------------------------------------------------------------------


@pytest.mark.netns
def test_verdicts_are_identical_with_and_without_early_stop_and_the_stopped_cases_say_so():
    """Asymmetric routes (the SYN-ACK dropped as invalid), private addresses advertised
    through NAT (the SYN rejected), the FTP helper dropping a 227 reply over IPv6, and the
    passing cases around them."""
    cases = planning.plan(
        planning.Axes(
            topologies=("server-multihomed-route", "server-nat", "server-multihomed"), tls=("none", "explicit")
        )
    )
    cases += planning.plan(planning.Axes(topologies=("server-nat-alg",), tls=("none",), families=("ipv6",)))
    stopped, _, _ = execute(cases, jobs=2, rules=False)
    waited, _, _ = execute(cases, jobs=2, rules=False, early_stop=False)
    verdict = {r.case.id: (r.verdict.outcome, r.verdict.stage, r.verdict.check) for r in waited}
    assert {r.case.id: (r.verdict.outcome, r.verdict.stage, r.verdict.check) for r in stopped} == verdict
    early = [r for r in stopped if r.verdict.evidence.stopped_early]
    assert {r.verdict.check for r in early} == {"asymmetric-route", "ipv4-only-line"}
    assert all(
        "nf_ct_ftp: dropping packet" in r.verdict.diagnosis for r in early if r.verdict.check == "ipv4-only-line"
    )
    assert all("The harness did not wait for the client's timeout" in r.verdict.diagnosis for r in early)
    assert not any(r.verdict.evidence.stopped_early for r in waited)
