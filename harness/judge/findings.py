"""Security findings: each a name, a severity and a plain fix, shared by the outside-in probe
(harness/probe) and the matrix's own cases (a passing case stays a pass and carries them)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import servers
from harness.core.family import classify, private
from harness.observe.observation import ClientReport

SEVERITIES = ("info", "low", "medium", "high", "critical")


@dataclass(frozen=True)
class Finding:
    check: str  # a name from FINDINGS below
    severity: str  # one of SEVERITIES
    title: str
    evidence: str  # the reply line or handshake result that shows it
    fix: str
    modes: tuple[str, ...] = ()  # the modes it applies to (empty: the whole server)


@dataclass(frozen=True)
class FindingKind:
    name: str
    severity: str
    title: str
    fix: str  # {knob}: every server's own setting for it, as its adapter declares (ServerAdapter.settings)


FINDINGS: dict[str, FindingKind] = {
    k.name: k
    for k in (
        FindingKind(
            "plaintext-login",
            "high",
            "plaintext login accepted although TLS is offered (USER before AUTH)",
            "Require TLS before login: {tls-login-required}.",
        ),
        FindingKind(
            "prot-c-accepted",
            "medium",
            "PROT C accepted: data may travel unencrypted after a TLS login",
            "Require protected data: {tls-data-required}.",
        ),
        FindingKind(
            "old-tls",
            "high",
            "TLS 1.0 or 1.1 accepted",
            "Accept TLS 1.2 and 1.3 only: {tls-1.2-minimum}, or MinProtocol = TLSv1.2 in the server's "
            "OpenSSL configuration.",
        ),
        FindingKind(
            "weak-cipher", "high", "a weak cipher suite accepted", "Offer strong suites only: {strong-ciphers}."
        ),
        FindingKind(
            "cert-untrusted",
            "high",
            "the certificate does not chain to a trusted CA",
            "Install a certificate from a CA the clients trust, with its intermediate certificates.",
        ),
        FindingKind(
            "cert-name",
            "medium",
            "the certificate does not name the host the clients connect to",
            "Issue the certificate for the name (or IP address) clients use, in subjectAltName.",
        ),
        FindingKind("cert-expired", "high", "the certificate has expired", "Renew the certificate."),
        FindingKind("cert-expiring", "low", "the certificate expires within 30 days", "Renew the certificate soon."),
        FindingKind(
            "cert-weak-key",
            "medium",
            "the certificate's key is too small",
            "Use an RSA key of at least 2048 bits or an EC key of at least 256 bits.",
        ),
        FindingKind(
            "anonymous",
            "medium",
            "anonymous login accepted",
            "Turn anonymous access off unless it is meant: {no-anonymous}.",
        ),
        FindingKind(
            "banner-version",
            "low",
            "the greeting gives the server's software version",
            "Hide the version: {hide-version}.",
        ),
        FindingKind(
            "private-address",
            "medium",
            "a private address leaked in the 227 reply",
            "Advertise the public address ({masquerade}), or let the firewall's FTP helper rewrite it.",
        ),
        FindingKind(
            "third-party-pasv",
            "high",
            "the 227 reply points to a third party (neither the server nor its network)",
            "Correct the advertised address ({masquerade}); if it is deliberate, clients must trust it explicitly.",
        ),
        FindingKind(
            "ftp-bounce",
            "high",
            "PORT/EPRT to a third-party address accepted (FTP bounce)",
            "Refuse data connections to any address but the client's: {no-foreign}.",
        ),
        FindingKind("non-utf8", "info", "replies that are not UTF-8", "Send UTF-8 replies (RFC 2640), or ASCII."),
    )
}
_KNOB = re.compile(r"\{([a-z0-9.-]+)\}")


def fix_text(kind: FindingKind) -> str:
    """The fix, with each server's own setting for each knob it names."""
    return _KNOB.sub(lambda m: servers.setting_names(m.group(1)) or "the server's own setting", kind.fix)


# A product name followed by a version number ("vsFTPd 3.0.3", "pyftpdlib 2.2.0 ready").
_VERSION = re.compile(r"\b([A-Za-z][\w-]*[A-Za-z])[ /_-]v?(\d+\.\d+(?:\.\d+)?[a-z]?)\b(?!\.\d)")


def banner_version(lines: tuple[str, ...]) -> str | None:
    """The product and version a greeting gives away, if any."""
    for line in lines:
        m = _VERSION.search(line[4:])
        if m:
            return f"{m.group(1)} {m.group(2)}"
    return None


def finding(name: str, evidence: str, modes: tuple[str, ...] = ()) -> Finding:
    k = FINDINGS[name]
    return Finding(k.name, k.severity, k.title, evidence, fix_text(k), modes)


def at_or_above(f: Finding, level: str) -> bool:
    return SEVERITIES.index(f.severity) >= SEVERITIES.index(level)


# --- what a matrix case shows from its own facts ---
def case_findings(report: ClientReport | None) -> tuple[Finding, ...]:
    if report is None:
        return ()
    recv = [l.line for l in report.transcript if l.dir == "recv"]
    out: list[Finding] = []
    greeting = tuple(recv[:1])
    if v := banner_version(greeting):
        out.append(finding("banner-version", f"greeting: {greeting[0]} (gives {v})"))
    for d in report.data:
        if (
            d.reply
            and d.reply.startswith("227")
            and d.control_peer
            and not private(d.control_peer)
            and classify(d.advertised_ip, d.control_peer) == "private"
        ):
            out.append(finding("private-address", f"{d.reply} (control peer {d.control_peer})"))
            break
    old = [d.tls_version for d in report.data if d.tls_version in ("TLSv1", "TLSv1.1")]
    if old:
        out.append(finding("old-tls", f"data connection negotiated {old[0]}"))
    bad = [l for l in recv if "\ufffd" in l]
    if bad:
        out.append(finding("non-utf8", f"{len(bad)} line(s) decoded with replacement, e.g. {bad[0]!r}"))
    return tuple(out)


def case_findings_json(report: ClientReport | None) -> list[dict[str, Any]]:
    return [dataclasses.asdict(f) for f in case_findings(report)]
