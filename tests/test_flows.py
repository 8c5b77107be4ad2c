"""conntrack expectation events: parsed from `conntrack -E expect -o xml` (a real capture of
the FTP helper on a server-nat-alg lab), and from the text lines of older recordings, with
the master (control) connection's own source port kept."""

from pathlib import Path

from harness.observe import flows

XML = (Path(__file__).parent / "fixtures" / "conntrack" / "expect-events.xml").read_text().splitlines()
TEXT = (
    "[NEW] 300 proto=6 src=203.0.113.10 dst=203.0.113.100 sport=0 dport=34619 mask-src=255.255.255.255 "
    "mask-dst=255.255.255.255 sport=0 dport=65535 master-src=10.0.1.2 master-dst=203.0.113.10 sport=40808 "
    "dport=21 class=0 helper=ftp"
)


def test_the_real_xml_capture_gives_the_expected_connection_and_its_master():
    got = flows.expectations("fw", XML)
    assert [e.event for e in got] == ["new", "destroy"] * 3  # header lines are not events
    first = got[0]
    assert (first.src, first.dst, first.helper) == ("203.0.113.100", "203.0.113.10", "ftp")
    assert 50000 <= first.dport <= 50009
    msrc, msport = first.master.split(" -> ")[0].split(":")
    assert msrc == "203.0.113.100" and int(msport) > 1024  # the control connection's own port
    assert first.master.endswith("203.0.113.10:21")


def test_a_text_line_keeps_the_master_source_port():
    e = flows.parse_expectation("fw", TEXT)
    assert (e.src, e.dst, e.dport) == ("203.0.113.10", "203.0.113.100", 34619)
    assert e.master == "10.0.1.2:40808 -> 203.0.113.10:21"  # not the expected connection's sport=0


def test_the_quoted_line_reads_back_as_the_same_expectation():
    for e in flows.expectations("fw", XML):
        assert flows.parse_expectation("fw", e.line()) == (e if e.event == "new" else None)
