"""A small test CA and one server certificate, made with `cryptography` on first use.

Output goes to certs/out/ (git-ignored) and is reused while the names it covers stay the
same. Clients verify the server against this CA, so a wrong certificate is a real failure.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import ipaddress
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.core.family import IPV6, nat64

OUT = Path(__file__).resolve().parent / "out"
HOSTNAME = "ftp.example.test"
# The server's public and private addresses in every topology and in both address families,
# plus loopback for the bench.
_V4 = ("203.0.113.10", "10.0.2.2")
ADDRESSES = (*_V4, "127.0.0.1", *map(IPV6.lab_address, _V4), "::1", nat64(_V4[0]))


def covering(addresses: Iterable[str]) -> CertPaths:
    """The default set when it covers `addresses` (the ones a topology's clients dial), else a
    set of its own beside it that adds them: out/more-<digest>/, its own CA."""
    more = sorted(set(addresses) - set(ADDRESSES) - {""})
    if not more:
        return ensure()
    digest = hashlib.sha256(" ".join(more).encode()).hexdigest()[:12]
    return ensure(OUT / f"more-{digest}", addresses=(*ADDRESSES, *more))


@dataclass(frozen=True)
class CertPaths:
    ca: Path
    cert: Path
    key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ftps-harness test lab"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


_LOCK = threading.Lock()


def ensure(out: Path = OUT, hostname: str = HOSTNAME, addresses: tuple[str, ...] = ADDRESSES) -> CertPaths:
    """Return the CA and server cert paths, generating them if missing or stale. Safe to call
    from several threads and processes at once: one generates, the others wait for it."""
    paths = CertPaths(out / "ca.pem", out / "server.pem", out / "server.key")
    want = {"hostname": hostname, "addresses": list(addresses)}
    meta = out / "sans.json"

    def current() -> bool:
        return (
            meta.exists()
            and all(p.exists() for p in (paths.ca, paths.cert, paths.key))
            and json.loads(meta.read_text()) == want
        )

    if current():
        return paths
    out.mkdir(parents=True, exist_ok=True)
    with _LOCK, open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not current():
            _generate(paths, meta, want, hostname, addresses)
    return paths


def _generate(paths: CertPaths, meta: Path, want: dict[str, Any], hostname: str, addresses: tuple[str, ...]) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("ftps-harness test CA"))
        .issuer_name(_name("ftps-harness test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(hostname)] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hostname))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    meta.unlink(missing_ok=True)  # written last: its presence means the set is complete
    paths.key.write_bytes(_pem_key(key))
    paths.key.chmod(0o600)
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    meta.write_text(json.dumps(want))
