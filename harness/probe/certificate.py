"""The server's certificate: who it names, who signed it, when it expires, its key; and
whether it chains to the CA given (or the system store) and matches the host."""

from __future__ import annotations

import datetime as dt
import fnmatch
import ipaddress

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from harness.judge.findings import Finding, finding
from harness.probe import session as S
from harness.probe.model import Certificate

_KEYS = (
    (rsa.RSAPublicKey, "RSA"),
    (ec.EllipticCurvePublicKey, "EC"),
    (dsa.DSAPublicKey, "DSA"),
    (ed25519.Ed25519PublicKey, "Ed25519"),
    (ed448.Ed448PublicKey, "Ed448"),
)
_MIN_BITS = {"RSA": 2048, "DSA": 2048, "EC": 256}


def _names(c: x509.Certificate) -> tuple[str, ...]:
    try:
        san = c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return (*san.get_values_for_type(x509.DNSName), *(str(a) for a in san.get_values_for_type(x509.IPAddress)))


def matches(host: str, names: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for n in names:
        if ip is not None:
            try:
                if ipaddress.ip_address(n) == ip:
                    return True
            except ValueError:
                continue
        elif fnmatch.fnmatch(host.lower(), n.lower()) and n.count(".") == host.count("."):
            return True
    return False


def certificate(der: bytes, t: S.Target, findings: list[Finding]) -> Certificate:
    c = x509.load_der_x509_certificate(der)
    key = c.public_key()
    kind = next((name for cls, name in _KEYS if isinstance(key, cls)), type(key).__name__)
    bits = getattr(key, "key_size", None)
    names = _names(c)
    now = dt.datetime.now(dt.UTC)
    left = (c.not_valid_after_utc - now).days
    verified = S.handshake(t, verify=True, check_hostname=False)  # chain only: the name is checked below
    chain = "trusted" if verified.failure is None else verified.failure.error.split("] ")[-1][:200]
    cert = Certificate(
        c.subject.rfc4514_string(),
        c.issuer.rfc4514_string(),
        c.not_valid_after_utc.isoformat(),
        left,
        kind,
        bits,
        names,
        chain,
        t.ca or "the system store",
        matches(t.host, names),
    )
    if verified.failure is not None and c.not_valid_after_utc > now:
        findings.append(finding("cert-untrusted", f"verifying against {cert.chain_to}: {chain}"))
    if not cert.name_match:
        findings.append(finding("cert-name", f"{t.host} is not among {', '.join(names) or 'no subjectAltName'}"))
    if left < 0:
        findings.append(finding("cert-expired", f"not after {cert.not_after}"))
    elif left < 30:
        findings.append(finding("cert-expiring", f"not after {cert.not_after} ({left} days)"))
    if bits and bits < _MIN_BITS.get(kind, 0):
        findings.append(finding("cert-weak-key", f"{kind} {bits} bits"))
    return cert
