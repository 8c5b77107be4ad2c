"""The FileZilla and WinSCP readers on the ticket fixtures (tests/fixtures/tickets/README.md says
what each shows): each file is read as its format and client, with its control lines in order
(passwords masked), its connection notes and their results, the replaced PASV addresses and the
TLS notes, every event pointing at the line it came from; neither reader takes an empty file,
garbage, the other's log, curl -v or lftp -d output."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import REPO

from harness.ticket.log import Log
from harness.ticket.readers import UnknownFormat, filezilla, read, winscp

TICKETS = REPO / "tests" / "fixtures" / "tickets"
FILEZILLA = sorted(TICKETS.glob("filezilla-*"))
WINSCP = sorted(TICKETS.glob("winscp-*"))

FEAT_TLS = [
    "211-Features:",
    " AUTH SSL",
    " AUTH TLS",
    " EPRT",
    " EPSV",
    " MDTM",
    " PASV",
    " PBSZ",
    " PROT",
    " REST STREAM",
    " SIZE",
    " TVFS",
    "211 End",
]
FEAT_PLAIN = ["211-Features:", " EPRT", " EPSV", " MDTM", " PASV", " REST STREAM", " SIZE", " TVFS", "211 End"]
LOGIN_TLS = ["AUTH TLS", "USER alice", "PASS ******", "SYST", "FEAT", "PBSZ 0", "PROT P"]
LOGIN_TLS_REPLIES = [
    "220 (vsFTPd 3.0.3)",
    "234 Proceed with negotiation.",
    "331 Please specify the password.",
    "230 Login successful.",
    "215 UNIX Type: L8",
    *FEAT_TLS,
    "200 PBSZ set to 0.",
    "200 PROT now Private.",
]


def lines(path: Path) -> list[str]:
    return [l.removesuffix("\r") for l in path.read_bytes().decode("utf-8").split("\n")]


def sent(log: Log) -> list[str]:
    return [e.text for e in log.events if e.kind == "sent"]


def received(log: Log) -> list[str]:
    return [e.text for e in log.events if e.kind == "received"]


def dials(log: Log) -> list[tuple[int, str, str, int, str | None]]:
    return [(e.where.line, e.dial.conn, e.dial.host, e.dial.port, e.dial.result) for e in log.events if e.dial]


def replaced(log: Log) -> list[int]:
    return [e.where.line for e in log.events if e.replaced_pasv]


def tls(log: Log) -> list[tuple[int, str]]:
    return [(e.where.line, e.tls) for e in log.events if e.tls]


def errors(log: Log) -> list[int]:
    return [e.where.line for e in log.events if e.kind == "error"]


# --- every fixture -----------------------------------------------------------------


@pytest.mark.parametrize("path", FILEZILLA + WINSCP, ids=lambda p: p.name)
def test_each_fixture_is_read_by_its_reader_and_every_event_points_at_its_line(path):
    log = read(path)
    client = path.name.split("-", 1)[0]
    assert (log.format, log.client, log.file) == (client, client, str(path))
    text = lines(path)
    assert log.events
    for e in log.events:
        assert e.where.file == str(path)
        line = text[e.where.line - 1]
        if e.text.startswith("PASS "):
            assert "PASS " in line and "******" in e.text
        else:
            assert line.endswith(e.text), (e.where, e.text)
    # No password survives: every PASS is masked the same way.
    assert all(c == "PASS ******" for c in sent(log) if c.startswith("PASS"))


@pytest.mark.parametrize("path", FILEZILLA + WINSCP, ids=lambda p: p.name)
def test_the_two_readers_never_take_each_others_files(path):
    head = path.read_bytes()[: 64 * 1024]
    mine, other = (filezilla, winscp) if path.name.startswith("filezilla") else (winscp, filezilla)
    assert mine.sniff(head)
    assert not other.sniff(head)


# --- FileZilla ---------------------------------------------------------------------


def test_filezilla_pane_private_pasv_address_replaced_then_the_data_connection_times_out():
    log = read(TICKETS / "filezilla-pane-pasv-private-timeout.txt")
    assert sent(log) == [*LOGIN_TLS, "PWD", "TYPE I", "PASV", "LIST"]
    assert received(log) == [
        *LOGIN_TLS_REPLIES,
        '257 "/home/alice" is the current directory',
        "200 Switching to Binary mode.",
        "227 Entering Passive Mode (10,0,0,5,195,80).",
    ]
    # FileZilla connects to the control connection's peer, on the 227's port (195*256+80).
    assert dials(log) == [
        (1, "control", "203.0.113.10", 21, None),
        (2, "control", "203.0.113.10", 21, "ok"),
        (43, "data", "203.0.113.10", 50000, "timeout"),
    ]
    assert replaced(log) == [41]
    assert tls(log) == [(6, "handshake"), (7, "handshake")]
    assert errors(log) == [43, 44]
    assert log.settings == {"encryption": "explicit", "transfer mode": "Passive", "timeout": "20"}
    assert all(e.t is None for e in log.events)  # the pane without its time column
    assert log.client_version == ""  # FileZilla logs no version of its own


def test_filezilla_pane_plain_ftp_data_connection_refused_at_the_public_address():
    log = read(TICKETS / "filezilla-pane-plain-pasv-refused.txt")
    assert sent(log) == ["USER bob", "PASS ******", "SYST", "FEAT", "PWD", "TYPE I", "PASV", "LIST"]
    assert received(log)[-1] == "227 Entering Passive Mode (198,51,100,20,195,86)."
    assert received(log)[4:13] == FEAT_PLAIN
    assert dials(log) == [
        (1, "control", "198.51.100.20", 21, None),
        (2, "control", "198.51.100.20", 21, "ok"),
        (31, "data", "198.51.100.20", 50006, "refused"),
        (32, "data", "198.51.100.20", 50006, "timeout"),  # still waiting for LIST's reply
    ]
    assert replaced(log) == [] and tls(log) == []
    assert errors(log) == [31, 32, 33]
    assert log.settings["encryption"] == "none"


def test_filezilla_pane_success_with_its_time_column():
    log = read(TICKETS / "filezilla-pane-success.txt")
    assert sent(log) == [
        *LOGIN_TLS,
        "PWD",
        "TYPE I",
        "PASV",
        "LIST",
        # the upload's own connection: SYST and FEAT are known by then
        "AUTH TLS",
        "USER alice",
        "PASS ******",
        "PBSZ 0",
        "PROT P",
        "CWD /home/alice",
        "TYPE I",
        "PASV",
        "STOR report.pdf",
        "PASV",
        "LIST",
    ]
    assert [r for r in received(log) if r[:3] in ("150", "226")] == [
        "150 Here comes the directory listing.",
        "226 Directory send OK.",
        "150 Ok to send data.",
        "226 Transfer complete.",
        "150 Here comes the directory listing.",
        "226 Directory send OK.",
    ]
    assert errors(log) == [] and replaced(log) == []
    assert [d for d in dials(log) if d[4] not in (None, "ok")] == []
    assert dials(log) == [
        (1, "control", "203.0.113.10", 21, None),
        (2, "control", "203.0.113.10", 21, "ok"),
        (45, "control", "203.0.113.10", 21, None),
        (46, "control", "203.0.113.10", 21, "ok"),
    ]
    assert tls(log) == [(6, "handshake"), (7, "handshake"), (50, "handshake"), (51, "handshake")]
    t = {e.where.line: e.t for e in log.events}
    assert (t[1], t[11], t[45], t[len(t)]) == (0.0, 1.0, 24.0, 26.0)


def test_filezilla_pane_in_german():
    log = read(TICKETS / "filezilla-pane-de-pasv-private-timeout.txt")
    assert sent(log) == ["AUTH TLS", "USER lager", "PASS ******", "SYST", "FEAT", "PBSZ 0", "PROT P", "PWD"] + [
        "TYPE I",
        "PASV",
        "LIST",
    ]
    assert received(log)[-1] == "227 Entering Passive Mode (192,168,1,20,156,64)."
    assert dials(log) == [
        (1, "control", "192.0.2.45", 21, None),
        (2, "control", "192.0.2.45", 21, "ok"),
        (43, "data", "192.0.2.45", 40000, "timeout"),
    ]
    assert replaced(log) == [41]
    assert tls(log) == [(6, "handshake"), (7, "handshake")]
    assert errors(log) == [43, 44]
    assert log.settings["timeout"] == "20"


def test_filezilla_pane_in_italian_control_connection_refused_and_retried():
    log = read(TICKETS / "filezilla-pane-it-control-refused.txt")
    assert sent(log) == [] and received(log) == []
    assert dials(log) == [
        (2, "control", "198.51.100.7", 21, None),
        (3, "control", "198.51.100.7", 21, "refused"),
        (7, "control", "198.51.100.7", 21, None),
        (8, "control", "198.51.100.7", 21, "refused"),
    ]
    assert errors(log) == [4, 9]


def test_filezilla_log_file_two_engines_upload_data_connection_reset():
    log = read(TICKETS / "filezilla-logfile-tls-upload-reset.log")
    assert sent(log) == [
        *LOGIN_TLS,
        "PWD",
        "TYPE I",
        "PASV",
        "LIST",
        "AUTH TLS",
        "USER alice",
        "PASS ******",
        "PBSZ 0",
        "PROT P",
        "CWD /home/alice",
        "TYPE I",
        "PASV",
        "STOR backup-2026-12.zip",
    ]
    assert received(log)[-1] == "426 Failure reading network stream."
    # The debug line before the error names ECONNRESET too: only the Error is a Dial.
    assert dials(log) == [
        (1, "control", "203.0.113.10", 21, None),
        (2, "control", "203.0.113.10", 21, "ok"),
        (52, "control", "203.0.113.10", 21, None),
        (53, "control", "203.0.113.10", 21, "ok"),
        (86, "data", "203.0.113.10", 50009, "reset"),
    ]
    assert replaced(log) == [43, 78]
    assert tls(log) == [
        (6, "handshake"),
        (7, "handshake"),
        (8, "handshake"),
        (47, "handshake"),
        (48, "resumed"),
        (57, "handshake"),
        (58, "handshake"),
        (59, "handshake"),
        (82, "handshake"),
        (83, "resumed"),
    ]
    assert errors(log) == [86, 88]
    t = {e.where.line: e.t for e in log.events}
    assert (t[1], t[52], t[86]) == (0.0, 9.0, 12.0)


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_filezilla_in_french_with_its_no_break_spaces_and_ellipses(tmp_path):
    nb = "\u00a0"
    p = write(
        tmp_path,
        "fr.txt",
        f"Statut{nb}:\tConnexion à 203.0.113.10:21\u2026\n"
        f"Statut{nb}:\tConnexion établie, attente du message d\u2019accueil\u2026\n"
        f"Réponse{nb}:\t220 (vsFTPd 3.0.3)\n"
        f"Commande{nb}:\tPASV\n"
        f"Réponse{nb}:\t227 Entering Passive Mode (10,0,0,5,195,80).\n"
        f"Statut{nb}:\tLe serveur a envoyé une réponse passive avec une adresse non routable. "
        "Adresse remplacée par celle du serveur.\n"
        f"Commande{nb}:\tMLSD\n"
        f"Erreur{nb}:\tConnection interrompue après 20 secondes d\u2019inactivité\n"
        f"Erreur{nb}:\tImpossible de récupérer le contenu du dossier\n",
    )
    log = read(p)
    assert log.format == "filezilla"
    assert sent(log) == ["PASV", "MLSD"]
    assert dials(log) == [
        (1, "control", "203.0.113.10", 21, None),
        (2, "control", "203.0.113.10", 21, "ok"),
        (8, "data", "203.0.113.10", 50000, "timeout"),
    ]
    assert replaced(log) == [6]


def test_filezilla_pane_saved_as_utf16_by_notepad(tmp_path):
    src = TICKETS / "filezilla-pane-pasv-private-timeout.txt"
    p = write(tmp_path, "pane.txt", "\ufeff" + src.read_text(encoding="utf-8"), "utf-16-le")
    log, orig = read(p), read(src)
    assert [(e.kind, e.text, e.where.line, e.dial) for e in log.events] == [
        (e.kind, e.text, e.where.line, e.dial) for e in orig.events
    ]


def test_filezilla_version_from_the_about_dialog_not_from_a_server_banner(tmp_path):
    about = "FileZilla Client\n----------------\n\nVersion:          3.66.4\n\nBuild information:\n"
    pane = "Status:\tConnecting to 203.0.113.10:21...\nResponse:\t220-FileZilla Server 1.8.0\nResponse:\t220 Hello\n"
    assert read(write(tmp_path, "a.txt", about + pane)).client_version == "3.66.4"
    assert read(write(tmp_path, "b.txt", pane)).client_version == ""
    assert (
        read(write(tmp_path, "c.txt", "Using FileZilla Client 3.62.2 on Windows\n" + pane)).client_version == "3.62.2"
    )


def test_filezilla_gnutls_error_during_a_listing_is_a_tls_alert_on_the_data_connection(tmp_path):
    p = write(
        tmp_path,
        "tls.txt",
        "Status:\tConnecting to 203.0.113.10:21...\n"
        "Command:\tPASV\n"
        "Response:\t227 Entering Passive Mode (203,0,113,10,195,80).\n"
        "Command:\tMLSD\n"
        "Error:\tGnuTLS error -15 in gnutls_record_recv: An unexpected TLS packet was received.\n"
        "Error:\tDisconnected from server: ECONNABORTED - Connection aborted\n",
    )
    log = read(p)
    assert dials(log)[1:] == [
        (5, "data", "203.0.113.10", 50000, "tls-alert"),
        (6, "control", "203.0.113.10", 21, "reset"),
    ]
    assert tls(log)[0][1].startswith("alert: GnuTLS error -15")


# --- WinSCP ------------------------------------------------------------------------

WINSCP_SETTINGS = {
    "session name": "alice@203.0.113.10",
    "host": "203.0.113.10",
    "port": "21",
    "protocol": "FTP",
    "timeout": "15",
    "proxy": "None",
    "encryption": "explicit",
    "transfer mode": "Passive",
    "tls session reuse": "Yes",
    "tls versions": "TLSv1.2-TLSv1.3",
}


def test_winscp_trusts_the_private_pasv_address_and_the_data_connection_times_out():
    log = read(TICKETS / "winscp-session-pasv-timeout.log")
    assert log.client_version == "6.3.5"
    assert log.settings == {**WINSCP_SETTINGS, "force pasv ip": "No"}
    assert sent(log) == [*LOGIN_TLS, "PWD", "TYPE A", "PASV", "LIST -a"]
    assert received(log) == [
        *LOGIN_TLS_REPLIES,
        '257 "/home/alice" is the current directory',
        "200 Switching to ASCII mode.",
        "227 Entering Passive Mode (10,0,0,5,195,80).",
    ]
    assert dials(log) == [
        (31, "control", "203.0.113.10", 21, None),
        (32, "control", "203.0.113.10", 21, "ok"),
        (77, "data", "10.0.0.5", 50000, None),
        (78, "data", "10.0.0.5", 50000, "timeout"),
    ]
    assert replaced(log) == []
    assert tls(log) == [(36, "handshake"), (38, "handshake"), (39, "handshake")]
    assert errors(log) == [78, 79, 80, 81, 82]  # the engine's errors, then the exception's lines
    t = {e.where.line: e.t for e in log.events}
    assert (t[1], t[77], t[78]) == (0.0, 0.563, 15.574)


def test_winscp_plain_ftp_transfer_channel_refused():
    log = read(TICKETS / "winscp-session-plain-pasv-refused.log")
    assert log.settings["encryption"] == "none" and log.settings["force pasv ip"] == "Auto"
    assert "tls versions" not in log.settings
    assert sent(log) == ["USER bob", "PASS ******", "SYST", "FEAT", "PWD", "TYPE A", "PASV", "LIST -a"]
    assert received(log)[4:13] == FEAT_PLAIN
    assert dials(log) == [
        (29, "control", "198.51.100.20", 21, None),
        (30, "control", "198.51.100.20", 21, "ok"),
        (61, "data", "198.51.100.20", 50006, None),
        (62, "data", "198.51.100.20", 50006, "refused"),
    ]
    assert tls(log) == [] and replaced(log) == []
    assert errors(log) == [62, 63, 64, 65, 66]


def test_winscp_success_replaces_the_private_address_and_reuses_the_tls_session():
    log = read(TICKETS / "winscp-session-success.log")
    assert log.settings == {**WINSCP_SETTINGS, "force pasv ip": "Auto"}
    assert sent(log) == [*LOGIN_TLS, "PWD", "TYPE A", "PASV", "LIST -a", "TYPE I", "PASV", "STOR report.pdf"]
    assert [r for r in received(log) if r[:3] in ("150", "226")] == [
        "150 Here comes the directory listing.",
        "226 Directory send OK.",
        "150 Ok to send data.",
        "226 Transfer complete.",
    ]
    assert replaced(log) == [76, 90]
    assert dials(log) == [
        (31, "control", "203.0.113.10", 21, None),
        (32, "control", "203.0.113.10", 21, "ok"),
        (78, "data", "203.0.113.10", 50004, None),
        (81, "data", "203.0.113.10", 50004, "ok"),
        (92, "data", "203.0.113.10", 50005, None),
        (95, "data", "203.0.113.10", 50005, "ok"),
    ]
    assert [x for x in tls(log) if x[1] != "handshake"] == [(79, "resumed"), (93, "resumed")]
    assert errors(log) == []


def test_winscp_control_connection_times_out():
    log = read(TICKETS / "winscp-session-control-timeout.log")
    assert sent(log) == [] and received(log) == []
    assert dials(log) == [(31, "control", "203.0.113.10", 21, None), (32, "control", "203.0.113.10", 21, "timeout")]
    assert errors(log) == [32, 33, 34, 35, 36]
    assert log.events[-3].text == "(EFatal) Connection failed."


def test_winscp_locale_time_separator_a_port_other_than_21_and_active_mode(tmp_path):
    p = write(
        tmp_path,
        "w.log",
        ". 2026-12-03 10.15.42.001 Host name: ftp.example.com (IPv4, Port: 2121)\r\n"
        ". 2026-12-03 10.15.42.002 FTP: Passive: No [Force IP: Auto]; MLSD: Auto [List all: Auto]; HOST: Auto\r\n"
        ". 2026-12-03 10.15.42.003 Connecting to ftp.example.com:2121 ...\r\n"
        ". 2026-12-03 10.15.42.100 Connected with ftp.example.com:2121. Waiting for welcome message...\r\n"
        "> 2026-12-03 10.15.43.000 PORT 192,168,1,50,195,80\r\n"
        "< 2026-12-03 10.15.43.040 200 PORT command successful. Consider using PASV.\r\n"
        "> 2026-12-03 10.15.43.040 LIST -a\r\n"
        ". 2026-12-03 10.15.58.050 Timeout detected. (data connection)\r\n",
    )
    log = read(p)
    assert log.settings == {
        "host": "ftp.example.com",
        "port": "2121",
        "transfer mode": "Active",
        "force pasv ip": "Auto",
    }
    assert dials(log) == [
        (3, "control", "ftp.example.com", 2121, None),
        (4, "control", "ftp.example.com", 2121, "ok"),
        (8, "data", "192.168.1.50", 50000, "timeout"),  # active mode: where the server was to connect
    ]
    assert log.events[-1].t == 16.049


# --- what the readers do not take -------------------------------------------------

CURL_V = """\
*   Trying 203.0.113.10:21...
* Connected to 203.0.113.10 (203.0.113.10) port 21
< 220 (vsFTPd 3.0.3)
> AUTH SSL
< 234 Proceed with negotiation.
* TLSv1.3 (OUT), TLS handshake, Client hello (1):
> USER alice
< 331 Please specify the password.
> PASS ******
< 230 Login successful.
> PWD
< 257 "/home/alice" is the current directory
> EPSV
* Connect data stream passively
< 229 Entering Extended Passive Mode (|||50001|)
*   Trying 203.0.113.10:50001...
* Connected 2nd connection to 203.0.113.10 port 50001
> TYPE A
< 200 Switching to ASCII mode.
> LIST
"""
CURL_V_TRACE_TIME = "".join(f"10:15:42.{n:06d} {line}\n" for n, line in enumerate(CURL_V.splitlines()))
LFTP_D = """\
---- Connecting to 203.0.113.10 (203.0.113.10) port 21
<--- 220 (vsFTPd 3.0.3)
---> FEAT
<--- 211-Features:
<---  EPRT
<--- 211 End
---> AUTH TLS
<--- 234 Proceed with negotiation.
---> USER alice
<--- 331 Please specify the password.
---> PASS XXXX
<--- 230 Login successful.
---> PASV
<--- 227 Entering Passive Mode (203,0,113,10,195,80).
---- Connecting data socket to (203.0.113.10) port 50000
"""
OTHERS = {
    "empty": b"",
    "blank lines": b"\n\n\r\n",
    "garbage": bytes(random.Random(7).randrange(256) for _ in range(4096)),
    "prose": b"Status: we cannot upload since Monday.\nError: please help\n",
    "curl -v": CURL_V.encode(),
    "curl -v --trace-time": CURL_V_TRACE_TIME.encode(),
    "lftp -d": LFTP_D.encode(),
    "json": (REPO / "tests" / "fixtures" / "observations").glob("*.json").__next__().read_bytes(),
}


@pytest.mark.parametrize("name", OTHERS)
def test_neither_reader_takes_other_formats(name):
    head = OTHERS[name][: 64 * 1024]
    assert not filezilla.sniff(head)
    assert not winscp.sniff(head)


def test_a_file_no_reader_takes_names_both_formats_tried(tmp_path):
    p = tmp_path / "garbage.bin"
    p.write_bytes(OTHERS["garbage"])
    with pytest.raises(UnknownFormat) as e:
        read(p)
    assert "FileZilla" in str(e.value) and "WinSCP" in str(e.value)
