"""The pcap reader on captures of real runs in the harness's labs (tests/fixtures/tickets/
README-pcap.md says how each was made): control lines in order, PASS masked, each SYN's
target and outcome, TLS notes, with and without the key log; damaged and foreign files; and
the TLS and reset rules on frames made by hand."""

from __future__ import annotations

import shutil
import stat
import subprocess
from functools import cache
from pathlib import Path

import pytest
from conftest import REPO

from harness.core.inputs import InputError
from harness.ticket import readers
from harness.ticket.log import Dial, Event, Log
from harness.ticket.readers import _pcap_dials, _pcap_tls, _tshark, pcap
from harness.ticket.readers._pcap_control import Control
from harness.ticket.readers._tshark import Frame

TICKETS = REPO / "tests" / "fixtures" / "tickets"
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is installed by make setup")


@cache
def load(name: str, keys: bool) -> Log:
    path = TICKETS / f"{name}.pcap"
    return pcap.parse_with_keys(path, path.read_bytes(), path.with_suffix(".keylog") if keys else None)


def lines(log: Log) -> list[tuple[str, str]]:
    return [(e.kind, e.text) for e in log.events if e.kind in ("sent", "received")]


def dials(log: Log) -> list[tuple[int, Dial]]:
    return [(e.where.packet, e.dial) for e in log.events if e.dial is not None]


def tls(log: Log) -> list[tuple[int, str]]:
    return [(e.where.packet, e.tls) for e in log.events if e.tls is not None]


def event(log: Log, packet: int, kind: str) -> Event:
    return next(e for e in log.events if e.where.packet == packet and e.kind == kind)


# --- which files are captures ------------------------------------------------------------


def test_sniff_takes_pcap_and_pcapng_by_their_magic_numbers_and_nothing_else():
    for magic in ("a1b2c3d4", "d4c3b2a1", "a1b23c4d", "4d3cb2a1", "0a0d0d0a"):
        assert pcap.sniff(bytes.fromhex(magic) + b"\0" * 20)
    for path in TICKETS.glob("*.pcap"):
        assert pcap.sniff(path.read_bytes()[:64]), path.name
    for text in (
        b"*   Trying 203.0.113.10:21...\n< 220 (vsFTPd 3.0.3)\n",
        b"",
        b"\xa1\xb2",
        (TICKETS / "README-pcap.md").read_bytes(),
    ):
        assert not pcap.sniff(text)
    assert not any(pcap.sniff(p.read_bytes()) for p in TICKETS.glob("*.keylog"))


@needs_tshark
def test_the_registry_reads_a_capture_as_pcap_with_the_key_log_of_the_same_name():
    log = readers.read(TICKETS / "pcap-explicit-pasv-private-refused.pcap")
    assert (log.format, log.client, log.file) == (
        "pcap",
        "unknown",
        str(TICKETS / "pcap-explicit-pasv-private-refused.pcap"),
    )
    assert ("sent", "USER anonymous") in lines(log)  # decrypted: the key log beside it was found


def test_a_text_file_is_no_capture(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("220 (vsFTPd 3.0.3)\nUSER anonymous\n")
    try:
        log = readers.read(f)
    except readers.UnknownFormat:
        return
    assert log.format != "pcap"


def test_the_key_log_beside_a_capture_same_name_first_else_the_only_one(tmp_path):
    cap = tmp_path / "ticket-4711.pcapng"
    cap.write_bytes(b"\x0a\x0d\x0d\x0a")
    assert pcap.keylog_beside(cap) is None
    (tmp_path / "client.keylog").write_text("")
    assert pcap.keylog_beside(cap) == tmp_path / "client.keylog"
    (tmp_path / "server.keylog").write_text("")
    assert pcap.keylog_beside(cap) is None  # two: which one is not for the reader to guess
    (tmp_path / "ticket-4711.keylog").write_text("")
    assert pcap.keylog_beside(cap) == tmp_path / "ticket-4711.keylog"


# --- plain FTP ---------------------------------------------------------------------------


@needs_tshark
def test_plain_pasv_to_the_private_address_refused():
    log = load("pcap-plain-pasv-private-refused", keys=False)
    assert lines(log) == [
        ("received", "220 (vsFTPd 3.0.3)"),
        ("sent", "USER anonymous"),
        ("received", "230 Login successful."),
        ("sent", "PWD"),
        ("received", '257 "/" is the current directory'),
        ("sent", "CWD pub"),
        ("received", "250 Directory successfully changed."),
        ("sent", "PASV"),
        ("received", "227 Entering Passive Mode (10,0,2,2,195,82)."),
    ]
    assert [e.where.packet for e in log.events if e.kind in ("sent", "received")] == [6, 8, 10, 11, 12, 13, 14, 15, 16]
    assert dials(log) == [
        (3, Dial("control", "203.0.113.10", 21, "ok")),
        (17, Dial("data", "10.0.2.2", 50002, "refused")),
    ]
    syn = event(log, 17, "error")
    assert syn.text == "SYN 203.0.113.100:60702 -> 10.0.2.2:50002: refused (RST in packet 18)"
    assert syn.t == pytest.approx(0.015404, abs=1e-6) and str(syn.where).endswith(
        "pcap-plain-pasv-private-refused.pcap packet 17"
    )
    assert tls(log) == []
    packets = [e.where.packet for e in log.events]
    assert packets == sorted(packets) and all(e.where.file == log.file for e in log.events)


@needs_tshark
def test_passive_range_not_forwarded_the_public_address_refused_and_the_password_masked():
    log = load("pcap-plain-pasv-range-not-forwarded-refused", keys=False)
    assert ("sent", "PASS ******") in lines(log)
    assert not any("ftp-secret" in e.text for e in log.events)
    assert ("received", "227 Entering Passive Mode (203,0,113,10,195,86).") in lines(log)
    assert dials(log)[-1] == (17, Dial("data", "203.0.113.10", 50006, "refused"))


@needs_tshark
def test_ipv6_epsv_dials_the_control_address_at_the_229_port():
    log = load("pcap-plain-epsv-ipv6-range-not-forwarded-refused", keys=False)
    assert lines(log)[-2:] == [("sent", "EPSV"), ("received", "229 Entering Extended Passive Mode (|||50008|)")]
    assert dials(log) == [
        (3, Dial("control", "2001:db8:113::10", 21, "ok")),
        (17, Dial("data", "2001:db8:113::10", 50008, "refused")),
    ]
    assert event(log, 17, "error").text.startswith("SYN [2001:db8:113::100]:48334 -> [2001:db8:113::10]:50008: refused")


@needs_tshark
def test_a_dropped_syn_is_a_timeout_with_its_retransmissions():
    log = load("pcap-plain-pasv-dropped-timeout", keys=False)
    assert dials(log)[-1] == (17, Dial("data", "203.0.113.40", 50001, "timeout"))
    assert (
        event(log, 17, "error").text == "SYN 198.51.100.50:46590 -> 203.0.113.40:50001: no answer (4 retransmissions)"
    )


@needs_tshark
def test_icmp_net_unreachable_answers_the_syn_to_the_private_address():
    log = load("pcap-plain-pasv-private-unreachable", keys=False)
    assert dials(log)[-1] == (17, Dial("data", "10.30.0.10", 50008, "unreachable"))
    assert "ICMP network unreachable from 198.51.100.1 in packet 18" in event(log, 17, "error").text


@needs_tshark
def test_active_mode_the_servers_syn_after_port_refused():
    log = load("pcap-plain-port-server-dial-refused", keys=False)
    assert ("sent", "PORT 10,0,1,2,190,135") in lines(log) and ("sent", "PASS ******") in lines(log)
    assert dials(log)[-1] == (18, Dial("data", "203.0.113.100", 48775, "refused"))
    assert event(log, 18, "error").text.startswith("SYN 203.0.113.10:37931 -> 203.0.113.100:48775: refused")
    assert lines(log)[-3] == ("received", "425 Unable to build data connection: Connection refused")


# --- explicit, implicit, CCC: without and with the key log --------------------------------


@needs_tshark
def test_explicit_without_keys_shows_only_what_is_in_clear():
    log = load("pcap-explicit-pasv-private-refused", keys=False)
    assert lines(log) == [
        ("received", "220 (vsFTPd 3.0.3)"),
        ("sent", "AUTH SSL"),
        ("received", "234 Proceed with negotiation."),
    ]
    assert tls(log) == [(11, "handshake"), (14, "version TLSv1.3")]  # 12: HelloRetryRequest, 13: its ClientHello
    assert "HelloRetryRequest" in event(log, 12, "note").text
    assert any("encrypted from here; without a key log" in e.text for e in log.events)
    assert dials(log)[-1] == (31, Dial("data", "10.0.2.2", 50005, "refused"))  # no 227 seen, yet the dial is


@needs_tshark
def test_explicit_with_keys_shows_the_whole_conversation():
    log = load("pcap-explicit-pasv-private-refused", keys=True)
    assert lines(log) == [
        ("received", "220 (vsFTPd 3.0.3)"),
        ("sent", "AUTH SSL"),
        ("received", "234 Proceed with negotiation."),
        ("sent", "USER anonymous"),
        ("received", "230 Login successful."),
        ("sent", "PBSZ 0"),
        ("received", "200 PBSZ set to 0."),
        ("sent", "PROT P"),
        ("received", "200 PROT now Private."),
        ("sent", "PWD"),
        ("received", '257 "/" is the current directory'),
        ("sent", "CWD pub"),
        ("received", "250 Directory successfully changed."),
        ("sent", "PASV"),
        ("received", "227 Entering Passive Mode (10,0,2,2,195,85)."),
    ]
    assert event(log, 30, "received").text.startswith("227") and event(log, 16, "sent").text == "USER anonymous"
    assert not any("encrypted from here" in e.text for e in log.events)
    close = event(log, 33, "note")  # the client's close_notify: an orderly end, not an error
    assert close.tls == "alert: close_notify"


@needs_tshark
def test_implicit_without_keys_shows_only_tls_notes_and_dials():
    log = load("pcap-implicit-pasv-private-refused", keys=False)
    assert lines(log) == []
    assert dials(log) == [
        (1, Dial("control", "203.0.113.10", 990, "ok")),
        (27, Dial("data", "10.0.2.2", 50006, "refused")),
    ]
    assert tls(log) == [(4, "handshake"), (9, "version TLSv1.3")]


@needs_tshark
def test_implicit_with_keys_reads_from_the_greeting_on():
    log = load("pcap-implicit-pasv-private-refused", keys=True)
    assert lines(log)[0] == ("received", "220 (vsFTPd 3.0.3)") and lines(log)[1] == ("sent", "USER anonymous")
    assert lines(log)[-1] == ("received", "227 Entering Passive Mode (10,0,2,2,195,86).")


CCC_AFTER = [
    ("sent", "TYPE I"),
    ("received", "200 Type set to I"),
    ("sent", "PASV"),
    ("received", "227 Entering Passive Mode (10,0,2,2,195,80)."),
    ("sent", "STOR up-11165128536924.bin"),
    ("sent", "ABOR"),
]


@needs_tshark
def test_ccc_without_keys_multi_line_feat_then_clear_again_after_tls():
    log = load("pcap-ccc-pasv-private-refused", keys=False)
    got = lines(log)
    assert got[:3] == [
        ("received", "220 ProFTPD Server (ftps-harness proftpd) [10.0.2.2]"),
        ("sent", "FEAT"),
        ("received", "211-Features:"),
    ]
    feat = got[2 : got.index(("received", "211 End")) + 1]
    assert len(feat) == 22 and ("received", " AUTH TLS") in feat and ("received", " CCC") in feat
    assert got[len(feat) + 2 :] == [("sent", "AUTH TLS"), ("received", "234 AUTH TLS successful"), *CCC_AFTER]
    clear = next(e for e in log.events if "clear again" in e.text)
    assert clear.where.packet == 75 and event(log, 75, "sent").text == "TYPE I"
    assert dials(log)[-1] == (79, Dial("data", "10.0.2.2", 50000, "refused"))
    assert [e.where.packet for e in log.events if e.text in ("STOR up-11165128536924.bin", "ABOR")] == [81, 81]


@needs_tshark
def test_ccc_with_keys_login_and_ccc_inside_tls_password_masked():
    log = load("pcap-ccc-pasv-private-refused", keys=True)
    got = lines(log)
    i = got.index(("sent", "CCC"))
    assert got[i + 1] == ("received", "200 Clearing control channel protection")
    assert got[i + 2 :] == CCC_AFTER
    assert ("sent", "USER ftpuser") in got and ("sent", "PASS ******") in got
    assert not any("ftp-secret" in e.text for e in log.events)
    assert [(p, t) for p, t in tls(log) if t.startswith("alert")] == [
        (73, "alert: close_notify"),
        (74, "alert: close_notify"),
    ]


# --- TLS sessions on data connections, resets -----------------------------------------------


@needs_tshark
@pytest.mark.parametrize("keys", [False, True])
def test_a_passing_data_connection_offers_and_resumes_the_session(keys):
    log = load("pcap-explicit-pasv-pass", keys=keys)
    assert (28, Dial("data", "203.0.113.10", 50008, "ok")) in dials(log)
    assert (30, "resume-offered") in tls(log) and (39, "resumed") in tls(log)
    assert "offers to resume a session (a pre_shared_key)" in event(log, 30, "note").text
    assert (("received", "226 Transfer complete.") in lines(log)) == keys


@needs_tshark
def test_ftplib_offers_no_resumption_and_vsftpd_says_522():
    bare, keyed = (
        load("pcap-explicit-session-reuse-522", keys=False),
        load("pcap-explicit-session-reuse-522", keys=True),
    )
    for log in (bare, keyed):
        assert (35, "handshake") in tls(log) and not any(t in ("resume-offered", "resumed") for _, t in tls(log))
        assert (31, Dial("data", "203.0.113.10", 50008, "ok")) in dials(log)
    assert ("received", "522 SSL connection failed: session reuse required") in lines(keyed)
    assert not any(text.startswith("522") for _, text in lines(bare))


@needs_tshark
def test_a_reset_data_connection_is_an_error_before_the_426():
    log = load("pcap-explicit-upload-reset-426", keys=True)
    reset = event(log, 41, "error")
    assert reset.dial == Dial("data", "203.0.113.10", 50005, "reset")
    assert (
        reset.text
        == "RST 203.0.113.100:46062 -> 203.0.113.10:50005: the data connection to 203.0.113.10:50005 is reset"
    )
    assert event(log, 42, "received").text == "426 Failure reading network stream."
    alert = event(log, 47, "error")
    assert alert.tls == "alert: decode_error" and "fatal" in alert.text


# --- damaged and foreign files, tshark missing or failing, key logs -------------------------


@needs_tshark
def test_a_truncated_capture_gives_the_events_before_the_cut(tmp_path):
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((TICKETS / "pcap-plain-pasv-private-refused.pcap").read_bytes()[:1480])
    log = pcap.parse(cut, cut.read_bytes())
    assert lines(log)[-1] == ("sent", "PASV")
    assert log.events[-1].kind == "note" and "ends early" in log.events[-1].text and "cut short" in log.events[-1].text
    assert str(tmp_path) not in log.events[-1].text.replace(str(cut), "")  # no temporary path in the words


@needs_tshark
@pytest.mark.parametrize("data", [b"\xd4\xc3\xb2\xa1" + b"garbage " * 8, b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00"])
def test_a_damaged_capture_is_an_input_error(tmp_path, data):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(data)
    with pytest.raises(InputError, match=r"bad\.pcap: tshark cannot read it: "):
        pcap.parse(bad, data)


@needs_tshark
def test_a_capture_with_no_ftp_says_so(tmp_path):
    empty = tmp_path / "empty.pcap"
    empty.write_bytes((TICKETS / "pcap-plain-pasv-private-refused.pcap").read_bytes()[:24])  # the header alone
    log = pcap.parse(empty, empty.read_bytes())
    assert [e.text for e in log.events] == [
        "no FTP control connection in the capture (no connection to port 21, 990, no greeting, USER or AUTH)"
    ]


def _fake_tshark(tmp_path: Path, monkeypatch, script: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "tshark"
    fake.write_text("#!/bin/sh\n" + script + "\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


def _capture() -> tuple[Path, bytes]:
    path = TICKETS / "pcap-plain-pasv-private-refused.pcap"
    return path, path.read_bytes()


def test_tshark_missing_is_an_input_error_that_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match=r"needs tshark \(Debian: apt-get install tshark\)"):
        pcap.parse_with_keys(*_capture(), None)


def test_tshark_failing_is_an_input_error_with_its_words(tmp_path, monkeypatch):
    _fake_tshark(tmp_path, monkeypatch, 'echo "tshark: something broke" >&2; exit 2')
    with pytest.raises(InputError, match="tshark cannot read it: something broke"):
        pcap.parse_with_keys(*_capture(), None)


def test_tshark_too_slow_is_stopped(tmp_path, monkeypatch):
    _fake_tshark(tmp_path, monkeypatch, "exec sleep 30")
    monkeypatch.setattr(_tshark, "TIMEOUT", 0.5)
    with pytest.raises(InputError, match="took longer than"):
        pcap.parse_with_keys(*_capture(), None)


def test_tshark_saying_too_much_is_stopped(tmp_path, monkeypatch):
    _fake_tshark(tmp_path, monkeypatch, "exec yes 1")
    monkeypatch.setattr(_tshark, "MAX_OUTPUT", 1 << 16)
    with pytest.raises(InputError, match="more than 0 MiB"):
        pcap.parse_with_keys(*_capture(), None)


def test_a_key_log_that_is_not_one_is_an_input_error(tmp_path):
    keys = tmp_path / "x.keylog"
    keys.write_text("# SSL/TLS secrets log file\nCLIENT_RANDOM 00ff 11ee\nhello world\n")
    with pytest.raises(InputError, match=r"x\.keylog:3: not a TLS key log line"):
        pcap.parse_with_keys(*_capture(), keys)
    keys.write_bytes(b"\xff\xfe")
    with pytest.raises(InputError, match="not UTF-8"):
        pcap.parse_with_keys(*_capture(), keys)
    with pytest.raises(InputError, match="cannot read"):
        pcap.parse_with_keys(*_capture(), tmp_path / "missing.keylog")


@needs_tshark
def test_an_empty_key_log_is_no_keys(tmp_path):
    empty = tmp_path / "empty.keylog"
    empty.write_text("")
    path = TICKETS / "pcap-explicit-pasv-private-refused.pcap"
    log = pcap.parse_with_keys(path, path.read_bytes(), empty)
    assert lines(log) == lines(load("pcap-explicit-pasv-private-refused", keys=False))
    assert any("the key log has no keys for it" in e.text for e in log.events)


# --- the rules, on frames made by hand ----------------------------------------------------


def frame(n: int, src: str, sport: int, dst: str, dport: int, flags: int = 0x18, **kw) -> Frame:
    defaults = dict(t=n / 100, stream=1, seq=1000, length=0, retransmission=False)
    return Frame(n, src=src, sport=sport, dst=dst, dport=dport, flags=flags, **{**defaults, **kw})


C, S = ("198.51.100.7", 41234), ("203.0.113.10", 50006)


def hello(n: int, **kw) -> Frame:
    return frame(n, *C, *S, content_types=(22,), handshakes=(1,), **kw)


def server_hello(n: int, **kw) -> Frame:
    return frame(n, *S, *C, content_types=(22,), handshakes=(2,), **kw)


def said(frames: list[Frame]) -> list[tuple[str, str | None]]:
    return [(e.kind, e.tls) for e in _pcap_tls.notes(frames, {1: "data"}, "t.pcap")]


def test_tls12_session_id_offer_and_its_echo_is_a_resumption():
    ch = hello(1, session_ids=("ab" * 32,), supported_versions=(), versions=(0x0303,))
    assert said([ch, server_hello(2, session_ids=("ab" * 32,), versions=(0x0303,))]) == [
        ("note", "resume-offered"),
        ("note", "version TLSv1.2"),
        ("note", "resumed"),
    ]
    assert said([ch, server_hello(2, session_ids=("cd" * 32,), versions=(0x0303,))])[-1] == ("note", "not-resumed")


def test_a_tls13_client_hello_with_a_random_session_id_offers_nothing():
    ch = hello(1, session_ids=("ab" * 32,), supported_versions=(0x0304, 0x0303), ext_types=(35, 43), ext_lens=(0, 5))
    assert said([ch]) == [("note", "handshake")]
    ticket = hello(1, session_ids=("ab" * 32,), supported_versions=(0x0304,), ext_types=(35, 43), ext_lens=(192, 5))
    assert said([ticket]) == [("note", "resume-offered")]
    psk = hello(1, supported_versions=(0x0304,), ext_types=(43, 41), ext_lens=(5, 200))
    no = server_hello(2, supported_versions=(0x0304,), ext_types=(43, 51), ext_lens=(2, 36))
    assert said([psk, no]) == [("note", "resume-offered"), ("note", "version TLSv1.3"), ("note", "not-resumed")]


def test_alerts_fatal_is_an_error_close_notify_and_encrypted_ones_are_notes():
    alerts = frame(3, *S, *C, content_types=(21, 21), alerts=((2, 48), (1, 0)))
    assert said([alerts]) == [("error", "alert: unknown_ca"), ("note", "alert: close_notify")]
    assert said([frame(3, *S, *C, content_types=(21,))]) == [("note", None)]


def test_a_rst_after_its_senders_own_fin_is_no_reset_one_before_is():
    control = Control(0, ("198.51.100.7", 40000), ("203.0.113.10", 21), first=1, last=20, implicit=False)
    syn = frame(2, *C, *S, flags=0x02, stream=1)
    syn_ack = frame(3, *S, *C, flags=0x12, stream=1)
    fin = frame(4, *C, *S, flags=0x11, stream=1)
    rst_after_fin = frame(5, *C, *S, flags=0x04, stream=1)
    events, kinds = _pcap_dials.dials([syn, syn_ack, fin, rst_after_fin], {0: control}, [], "t.pcap")
    assert kinds == {0: "control", 1: "data"}
    assert [e.dial.result for e in events if e.dial] == ["ok"]
    rst = frame(5, *S, *C, flags=0x14, stream=1)
    events, _ = _pcap_dials.dials([syn, syn_ack, fin, rst], {0: control}, [], "t.pcap")
    assert [(e.kind, e.dial.result) for e in events if e.dial] == [("note", "ok"), ("error", "reset")]


def test_a_lone_syn_at_the_end_of_the_capture_has_no_outcome_yet():
    control = Control(0, ("198.51.100.7", 40000), ("203.0.113.10", 21), first=1, last=20, implicit=False)
    events, _ = _pcap_dials.dials([frame(2, *C, *S, flags=0x02, stream=1)], {0: control}, [], "t.pcap")
    assert [(e.kind, e.dial, e.text) for e in events] == [
        (
            "note",
            Dial("data", *S, None),
            "SYN 198.51.100.7:41234 -> 203.0.113.10:50006: no answer before the capture ends",
        )
    ]


# --- the same capture in other shapes -------------------------------------------------------


def _records(data: bytes) -> tuple[bytes, list[bytes]]:
    """A little-endian pcap's header and its records (record header + packet)."""
    assert data[:4] == bytes.fromhex("d4c3b2a1")
    out, off = [], 24
    while off < len(data):
        incl = int.from_bytes(data[off + 8 : off + 12], "little")
        out.append(data[off : off + 16 + incl])
        off += 16 + incl
    return data[:24], out


def _port(record: bytes, old: int, new: int) -> bytes:
    """The record with TCP port `old` (source or destination) changed to `new` (Ethernet, IPv4)."""
    pkt = bytearray(record)
    eth = 16
    if pkt[eth + 12 : eth + 14] != b"\x08\x00" or pkt[eth + 14 + 9] != 6:
        return record
    tcp = eth + 14 + (pkt[eth + 14] & 0x0F) * 4
    for at in (tcp, tcp + 2):
        if int.from_bytes(pkt[at : at + 2], "big") == old:
            pkt[at : at + 2] = new.to_bytes(2, "big")
    return bytes(pkt)


@needs_tshark
@pytest.mark.parametrize("shape", ["pcapng", "nsecpcap"])
def test_pcapng_and_nanosecond_pcap_read_the_same(tmp_path, shape):
    if shutil.which("editcap") is None:
        pytest.skip("editcap comes with tshark")
    src = TICKETS / "pcap-explicit-pasv-private-refused.pcap"
    out = tmp_path / f"x.{shape}"
    subprocess.run(["editcap", "-F", shape, str(src), str(out)], check=True, capture_output=True)
    assert pcap.sniff(out.read_bytes()[:64])
    log = pcap.parse_with_keys(out, out.read_bytes(), src.with_suffix(".keylog"))
    want = load("pcap-explicit-pasv-private-refused", keys=True)
    assert [(e.kind, e.text, e.where.packet, e.dial, e.tls) for e in log.events] == [
        (e.kind, e.text, e.where.packet, e.dial, e.tls) for e in want.events
    ]


@needs_tshark
def test_a_control_connection_on_another_port_is_found_by_its_greeting_and_decrypted(tmp_path):
    src = TICKETS / "pcap-explicit-pasv-private-refused.pcap"
    head, records = _records(src.read_bytes())
    moved = tmp_path / "port-2121.pcap"
    moved.write_bytes(head + b"".join(_port(r, 21, 2121) for r in records))
    log = pcap.parse_with_keys(moved, moved.read_bytes(), src.with_suffix(".keylog"))
    assert lines(log) == lines(load("pcap-explicit-pasv-private-refused", keys=True))
    assert dials(log) == [
        (3, Dial("control", "203.0.113.10", 2121, "ok")),
        (31, Dial("data", "10.0.2.2", 50005, "refused")),
    ]
    assert (11, "handshake") in tls(log)


@needs_tshark
def test_a_capture_started_after_the_syn_still_knows_the_client(tmp_path):
    head, records = _records((TICKETS / "pcap-plain-pasv-private-refused.pcap").read_bytes())
    late = tmp_path / "late.pcap"
    late.write_bytes(head + b"".join(records[5:]))  # from the greeting on (packet 6 is now 1)
    log = pcap.parse(late, late.read_bytes())
    assert lines(log) == lines(load("pcap-plain-pasv-private-refused", keys=False))
    assert dials(log) == [(12, Dial("data", "10.0.2.2", 50002, "refused"))]  # no control SYN to report
