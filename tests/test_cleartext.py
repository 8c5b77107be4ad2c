"""A server that writes in clear where a TLS record belongs: the ftplib agent keeps the bytes
(ClearTap, on loopback against a small TLS FTP server in this file), and the check
`cleartext-in-tls` quotes and reads them (on a recorded observation of vsftpd answering PASV
on IPv6 with its pasv_address set, where it dies with "500 OOPS: invalid pasv_address")."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

import certs
from clients._wire import CLEAR_LIMIT, ClearTap, not_a_record
from clients.python_ftplib import agent
from harness.judge import checks
from harness.judge.checks.cleartext import printable, reply_lines
from harness.observe import recording
from harness.observe.observation import UNSEEN, Connection

FIX = Path(__file__).parent / "fixtures" / "observations"
VSFTPD_PASV_V6 = FIX / "direct__vsftpd__ftplib__explicit__pasv__control__masq-on__ipv6.json"
OOPS = "500 OOPS: invalid pasv_address\r\n500 OOPS: priv_sock_get_cmd\r\n"


# --- the stream: where TLS records stop -----------------------------------------------------


def test_not_a_record_finds_the_first_bytes_that_are_not_a_tls_record():
    record = bytes([23, 3, 3, 0, 4]) + b"abcd"  # application_data, TLS 1.2 framing, 4 bytes
    assert not_a_record(b"500 OOPS: x\r\n") == 0
    assert not_a_record(record + b"500 OOPS") == len(record)
    assert not_a_record(record + record) is None
    assert not_a_record(record[:3]) is None  # ends inside a header
    assert not_a_record(b"") is None


# --- the agent on loopback ------------------------------------------------------------------


class ClearServer:
    """Explicit FTPS on loopback that, at `when` (pasv: the reply to PASV; data: the data
    connection's handshake), writes `clear` in clear, in two segments, then closes."""

    def __init__(self, when: str, clear: bytes, delay: float = 0.2):
        self.when, self.clear, self.delay = when, clear, delay
        paths = certs.ensure()
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(paths.cert, paths.key)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def __enter__(self) -> ClearServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        self.thread.join(5)

    def write_clear(self, sock: socket.socket) -> None:
        os.write(sock.fileno(), self.clear[:5])  # a record header's worth, then the rest
        time.sleep(0.05)
        os.write(sock.fileno(), self.clear[5:])

    def serve(self) -> None:
        conn, _ = self.listener.accept()
        conn.sendall(b"220 test\r\n")
        f = conn.makefile("rb")
        assert f.readline().startswith(b"AUTH")
        conn.sendall(b"234 go\r\n")
        tls = self.ctx.wrap_socket(conn, server_side=True)
        f = tls.makefile("rb")
        while line := f.readline():
            cmd = line.split()[0].upper()
            if cmd == b"PASV" and self.when == "pasv":
                self.write_clear(tls)
                break
            if cmd == b"PASV":
                data = socket.create_server(("127.0.0.1", 0))
                p = data.getsockname()[1]
                tls.sendall(f"227 Entering Passive Mode (127,0,0,1,{p >> 8},{p & 255})\r\n".encode())
                continue
            if cmd == b"STOR" and self.when == "data-first":  # clear text before any ClientHello
                d, _ = data.accept()
                self.write_clear(d)
                time.sleep(0.1)
                tls.sendall(b"150 ok\r\n")
                d.recv(4096)
                d.close()
                tls.sendall(b"426 no\r\n")
                continue
            if cmd == b"STOR":
                tls.sendall(b"150 ok\r\n")
                d, _ = data.accept()
                d.recv(4096)  # the ClientHello
                time.sleep(self.delay)  # a peer across a network answers later than the agent looks
                self.write_clear(d)
                d.close()
                tls.sendall(b"426 no\r\n")
                continue
            reply = {b"USER": b"230 in", b"PWD": b'257 "/"'}.get(cmd, b"200 ok")
            tls.sendall(reply + b"\r\n")
        time.sleep(0.1)
        tls.close()


def _run(server: ClearServer) -> agent.ClientReport:
    req = agent.Request(host="127.0.0.1", port=server.port, tls="explicit", verify=False, size=1024, timeout=3)
    return agent.run(req)


def test_the_agent_keeps_what_the_server_wrote_in_clear_on_the_control_connection():
    with ClearServer("pasv", OOPS.encode()) as server:
        report = _run(server)
    assert report.failure is not None and report.failure.step == "negotiate"
    assert "WRONG_VERSION_NUMBER" in report.failure.error
    assert report.control[0].cleartext == OOPS  # all of it: the 5 bytes TLS consumed, and the rest


def test_the_agent_keeps_what_the_server_wrote_in_clear_in_a_data_handshake():
    with ClearServer("data", b"550 no TLS on data here\r\n") as server:
        report = _run(server)
    assert report.failure is not None and report.failure.step == "data-tls"
    assert report.data[0].cleartext == "550 no TLS on data here\r\n"


def test_clear_text_written_before_the_client_hello_is_kept_whole():
    with ClearServer("data-first", b"421 data in clear\r\n") as server:
        report = _run(server)
    assert report.failure is not None and report.failure.step == "data-tls"
    assert report.data[0].cleartext == "421 data in clear\r\n"


def test_clear_text_the_tls_layer_read_first_keeps_the_rest():
    """A peer that answers the ClientHello before the agent could look (in-process, at once):
    the 5 bytes OpenSSL judged are unseen, the rest is kept."""
    clear = "550 no TLS on data here\r\n"
    with ClearServer("data", clear.encode(), delay=0) as server:
        report = _run(server)
    got = report.data[0].cleartext
    assert got in (clear, UNSEEN * 5 + clear[5:])


def test_the_clear_text_is_bounded():
    tap = ClearTap()
    tap.head = b"x" * CLEAR_LIMIT
    a, b = socket.socketpair()
    with a, b:
        b.sendall(b"y" * 1000)
        b.close()
        clear = tap.cleartext(a, ssl.SSLError(1, "wrong version number"), wait=0.2)
    assert clear is not None and len(clear) == CLEAR_LIMIT


# --- the check, on a recording --------------------------------------------------------------


def test_vsftpd_dying_on_pasv_over_ipv6_is_named_from_its_words():
    obs = recording.load(VSFTPD_PASV_V6)
    v = checks.judge(obs)
    assert (v.outcome, v.stage, v.check) == ("fail", "data-setup", "cleartext-in-tls")
    assert "'500 OOPS: invalid pasv_address\\r\\n500 OOPS: priv_sock_get_cmd\\r\\n'" in v.diagnosis
    assert "after 'PASV'" in v.diagnosis
    assert "fatal error" in v.diagnosis  # vsftpd's own wording for a dying session (its adapter's `says`)
    assert "pasv_address" in v.diagnosis and "2001:db8:113::10" in v.diagnosis
    assert "EPSV" in v.diagnosis  # what to do
    assert "log does not have it" in v.diagnosis  # its log had no OOPS line
    ct = v.evidence.cleartext
    assert ct is not None and ct.connection == "control" and ct.after == "PASV"
    assert ct.lines == ("500 OOPS: invalid pasv_address", "500 OOPS: priv_sock_get_cmd")


def _with_control_clear(obs, clear: str):
    assert obs.client is not None
    conns = tuple(replace(c, cleartext=clear) if c.role == "control" else c for c in obs.client.connections)
    obs.client = replace(obs.client, connections=conns)
    return obs


def test_without_the_bytes_it_is_no_longer_named():
    obs = _with_control_clear(recording.load(VSFTPD_PASV_V6), None)
    assert checks.judge(obs).check == "other-failure"


@pytest.mark.parametrize(
    "clear,says",
    [
        ("500 OOPS: vsf_sysutil_bind\r\n", "Look in vsftpd's configuration"),  # fatal, no setting named
        ("421 Service not available\r\n", "no longer treats the control connection as TLS"),  # a reply
        ("SSH-2.0-OpenSSH_9.2\r\n", "not an FTP reply"),  # something else
        ("\x00\x01\xff", "not an FTP reply"),
    ],
)
def test_what_the_bytes_mean_comes_from_the_bytes(clear, says):
    obs = _with_control_clear(recording.load(VSFTPD_PASV_V6), clear)
    v = checks.judge(obs)
    assert v.check == "cleartext-in-tls"
    assert says in v.diagnosis
    assert printable(clear) in v.diagnosis
    assert "EPSV" not in v.diagnosis


def test_a_data_connection_answered_in_clear():
    obs = recording.load(VSFTPD_PASV_V6)
    assert obs.client is not None
    data = Connection(role="data", cmd="STOR", mode="pasv", cleartext="550 no TLS here\r\n")
    ctl = tuple(replace(c, cleartext=None) for c in obs.client.control)
    obs.client = replace(obs.client, connections=(*ctl, data))
    v = checks.judge(obs)
    assert v.check == "cleartext-in-tls"
    assert "On the data connection for STOR" in v.diagnosis and "answered the TLS handshake in clear" in v.diagnosis


def test_printable_escapes_and_truncates():
    assert printable("a\r\n\x00\\é") == "a\\r\\n\\x00\\\\\\xe9"
    assert printable(UNSEEN * 5 + "OPS") == "?????OPS"
    assert printable("x" * 300, limit=10) == "x" * 10 + "…"
    assert reply_lines("500 OOPS: a\r\nnoise\r\n220-b\r\n") == ("500 OOPS: a", "220-b")
