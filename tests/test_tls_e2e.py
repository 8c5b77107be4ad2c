"""The TLS axes on real peers in real namespaces: CCC, TLS version, transfers per session,
close_notify and certificate checks. Each test runs a handful of cases."""

import pytest

pytestmark = pytest.mark.netns


def test_ccc_lets_the_helper_read_pasv_and_needs_no_passive_range(matrix):
    cases = matrix(
        "--topology",
        "server-nat-alg",
        "--server",
        "proftpd",
        "--client",
        "ftplib-reuse",
        "--tls",
        "ccc,explicit",
        "--mode",
        "pasv",
        "--pasv-address",
        "trust",
        "--masquerade",
        "off",
    )
    ccc = cases["server-nat-alg/proftpd/ftplib-reuse/ccc/pasv/trust/masq-off"]
    assert (ccc["outcome"], ccc["check"]) == ("pass", "helper-reads-after-ccc"), ccc["diagnosis"]
    assert ccc["evidence"]["tampered"] and ccc["rules_verified"]  # proven by replay
    (fw,) = ccc["rules"].values()
    assert sorted((r["kind"], r["dports"]) for r in fw["rules"]) == [
        ("dnat", "21"),
        ("filter", "21"),
        ("helper", "21"),
    ], "no passive range with CCC"
    tls = cases["server-nat-alg/proftpd/ftplib-reuse/explicit/pasv/trust/masq-off"]
    assert (tls["outcome"], tls["check"]) == ("fail", "advertised-address-unreachable")


def test_vsftpd_refuses_ccc_and_curl_goes_on_encrypted(matrix):
    cases = matrix(
        "--topology",
        "direct",
        "--server",
        "vsftpd",
        "--client",
        "ftplib-reuse,curl",
        "--tls",
        "ccc",
        "--mode",
        "epsv",
        "--masquerade",
        "off",
        "--no-rules",
    )
    probe = cases["direct/vsftpd/ftplib-reuse/ccc/epsv/n-a/masq-off"]
    assert (probe["outcome"], probe["check"]) == ("fail", "ccc-refused")
    assert "500" in probe["diagnosis"]
    curl = cases["direct/vsftpd/curl/ccc/epsv/n-a/masq-off"]
    assert (curl["outcome"], curl["check"]) == ("pass", "ccc-refused")


def test_curl_loses_resumption_on_the_second_transfer_only_under_tls13(matrix):
    cases = matrix(
        "--topology",
        "direct",
        "--server",
        "proftpd",
        "--client",
        "curl",
        "--tls",
        "explicit",
        "--mode",
        "epsv",
        "--masquerade",
        "off",
        "--tls-version",
        "1.2,1.3",
        "--transfers",
        "2",
        "--no-rules",
    )
    t13 = cases["direct/proftpd/curl/explicit/epsv/n-a/masq-off/transfers-2"]
    assert (t13["outcome"], t13["check"]) == ("fail", "tls-session-not-resumed"), t13["diagnosis"]
    assert t13["transfers"] == 2 and "tls_version" not in t13
    t12 = cases["direct/proftpd/curl/explicit/epsv/n-a/masq-off/tls-1.2/transfers-2"]
    assert t12["outcome"] == "pass" and t12["tls_version"] == "1.2"


def test_an_upload_without_close_notify_is_refused_by_vsftpd(matrix):
    cases = matrix(
        "--topology",
        "direct",
        "--server",
        "vsftpd",
        "--client",
        "ftplib-abrupt,ftplib-reuse",
        "--tls",
        "explicit",
        "--mode",
        "epsv",
        "--masquerade",
        "off",
        "--no-rules",
    )
    abrupt = cases["direct/vsftpd/ftplib-abrupt/explicit/epsv/n-a/masq-off"]
    assert (abrupt["outcome"], abrupt["check"]) == ("fail", "data-tls-truncated")
    assert "426" in abrupt["diagnosis"] and abrupt["evidence"]["truncated"]["close_notify_sent"] is False
    assert cases["direct/vsftpd/ftplib-reuse/explicit/epsv/n-a/masq-off"]["outcome"] == "pass"


def test_skipping_the_certificate_check_changes_the_outcome(matrix):
    cases = matrix(
        "--topology",
        "direct",
        "--server",
        "pyftpdlib",
        "--client",
        "curl,lftp",
        "--tls",
        "explicit",
        "--mode",
        "epsv",
        "--masquerade",
        "off",
        "--verify-cert",
        "system,off",
        "--no-rules",
    )
    for client in ("curl", "lftp"):
        strict = cases[f"direct/pyftpdlib/{client}/explicit/epsv/n-a/masq-off/verify-system"]
        assert (strict["outcome"], strict["stage"]) == ("fail", "tls-handshake"), strict["diagnosis"]
        assert cases[f"direct/pyftpdlib/{client}/explicit/epsv/n-a/masq-off/verify-off"]["outcome"] == "pass"
