"""The probe's findings that a matrix case can show from its own facts: the greeting's
version, a private address in 227, old TLS on a data connection, replies that were not
UTF-8. A passing case stays a pass and carries them (verdict evidence "findings")."""
from __future__ import annotations

import dataclasses

from ..observation import ClientReport
from .addresses import classify, private
from .findings import banner_version, finding
from .model import Finding


def findings(report: ClientReport | None) -> tuple[Finding, ...]:
    if report is None:
        return ()
    recv = [l.line for l in report.transcript if l.dir == "recv"]
    out: list[Finding] = []
    greeting = tuple(recv[:1])
    if (v := banner_version(greeting)):
        out.append(finding("banner-version", f"greeting: {greeting[0]} (gives {v})"))
    for d in report.data:
        if d.reply and d.reply.startswith("227") and d.control_peer and not private(d.control_peer) \
                and classify(d.advertised_ip, d.control_peer) == "private":
            out.append(finding("private-address", f"{d.reply} (control peer {d.control_peer})"))
            break
    old = [d.tls_version for d in report.data if d.tls_version in ("TLSv1", "TLSv1.1")]
    if old:
        out.append(finding("old-tls", f"data connection negotiated {old[0]}"))
    bad = [l for l in recv if "\ufffd" in l]
    if bad:
        out.append(finding("non-utf8", f"{len(bad)} line(s) decoded with replacement, e.g. {bad[0]!r}"))
    return tuple(out)


def as_evidence(report: ClientReport | None) -> list[dict]:
    return [dataclasses.asdict(f) for f in findings(report)]
