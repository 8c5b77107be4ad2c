"""Real servers (vsftpd, proftpd, pure-ftpd from the peer cache) and real clients (curl,
lftp, ftplib with and without TLS session reuse), in real namespaces."""

import pytest

pytestmark = pytest.mark.netns

SERVERS = ("pyftpdlib", "vsftpd", "proftpd", "pure-ftpd")
CLIENTS = ("ftplib", "ftplib-reuse", "curl", "lftp")


def test_every_server_and_client_in_passive_mode_on_direct(matrix):
    cases = matrix(
        "--topology",
        "direct",
        "--server",
        "all",
        "--client",
        ",".join(CLIENTS),
        "--tls",
        "explicit,implicit",
        "--mode",
        "pasv,epsv",
        "--pasv-address",
        "trust",
        "--masquerade",
        "off",
        "--no-rules",
    )
    for c in cases.values():
        if c["server"] == "pure-ftpd" and c["tls"] == "implicit":
            assert c["outcome"] == "skip" and "implicit" in c["diagnosis"]
        elif c["client"] == "ftplib" and c["server"] in ("vsftpd", "proftpd"):
            # Both require TLS session reuse by default; stock ftplib does not reuse.
            assert (c["outcome"], c["check"]) == ("fail", "session-reuse-required"), c["id"]
            assert c["stage"] == "data-tls"
        else:
            assert c["outcome"] == "pass", f"{c['id']}: {c['diagnosis']}"
    assert {(c["server"], c["client"]) for c in cases.values()} == {(s, k) for s in SERVERS for k in CLIENTS}


def test_vsftpd_session_reuse_requirement_and_turning_it_off(matrix):
    cases = matrix(
        "--topology",
        "direct",
        "--server",
        "vsftpd",
        "--client",
        "ftplib,ftplib-reuse,curl",
        "--tls",
        "explicit",
        "--mode",
        "epsv",
        "--masquerade",
        "off",
        "--session-reuse",
        "default,off",
        "--no-rules",
    )
    by = {(c["client"], c["reuse_required"]): c for c in cases.values()}
    assert by[("ftplib", "default")]["outcome"] == "fail"
    assert "session reuse required" in by[("ftplib", "default")]["diagnosis"]
    assert by[("ftplib-reuse", "default")]["outcome"] == "pass"
    assert by[("curl", "default")]["outcome"] == "pass"
    assert by[("ftplib", "off")]["outcome"] == "pass"


@pytest.mark.parametrize("server", SERVERS)
def test_masquerade_decides_pasv_through_server_nat_for_each_server(matrix, server):
    cases = matrix(
        "--topology",
        "server-nat",
        "--server",
        server,
        "--client",
        "ftplib-reuse",
        "--tls",
        "explicit",
        "--mode",
        "pasv",
        "--pasv-address",
        "trust",
        "--masquerade",
        "on,off",
        "--no-rules",
    )
    off = next(c for c in cases.values() if c["masquerade"] == "off")
    on = next(c for c in cases.values() if c["masquerade"] == "on")
    assert (off["outcome"], off["stage"]) == ("fail", "data-connect")
    assert "10.0.2.2" in off["diagnosis"]
    assert on["outcome"] == "pass", on["diagnosis"]


def test_curl_active_ftps_bug_is_reported_as_the_client_quirk_it_is(matrix):
    cases = matrix(
        "--topology",
        "direct",
        "--client",
        "curl",
        "--tls",
        "explicit,none",
        "--mode",
        "port",
        "--masquerade",
        "off",
        "--no-rules",
    )
    tls = next(c for c in cases.values() if c["tls"] == "explicit")
    assert tls["outcome"] == "fail" and tls["check"] == "client-known-bug"
    assert "10666" in tls["diagnosis"]
    plain = next(c for c in cases.values() if c["tls"] == "none")
    assert plain["outcome"] == "pass"


def test_clients_that_cannot_express_a_case_are_skips_with_a_reason(matrix):
    cases = matrix(
        "--topology",
        "direct",
        "--client",
        "lftp",
        "--tls",
        "none",
        "--mode",
        "eprt",
        "--masquerade",
        "off",
        "--no-rules",
    )
    (c,) = cases.values()
    assert c["outcome"] == "skip" and "EPRT" in c["diagnosis"]
