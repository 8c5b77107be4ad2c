"""Facts -> the smallest situation that explains them, as a scenario (pure).

Explanations are tried in the order of the table at the end; the first whose facts hold
writes the network (topology and its parameters). The server, the client, the TLS mode, the
data modes and `expect` come from the facts the same way for every explanation. Every value
set carries the fact it rests on (a comment in the scenario); what the facts cannot decide is
said so, and listed as alternatives where the harness has an axis for it (the FTP helper).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from harness.core import family
from harness.ticket.facts import Facts
from harness.ticket.log import Where

# A value of the scenario, with why: (key path, value, the reason and the fact it rests on)
Said = tuple[str, object, str]


@dataclass
class Inference:
    explanation: str  # the explanation's name, e.g. "private-pasv-address"
    summary: str  # one sentence: what the facts show
    values: list[Said] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)  # what the facts cannot tell

    def set(self, key: str, value: object, why: str) -> None:
        self.values.append((key, value, why))

    def get(self, key: str, default: object = None) -> object:
        return next((v for k, v, _ in self.values if k == key), default)


class NotReproducible(Exception):
    """The facts show a failure the harness's labs cannot stand for (say why)."""


Explain = Callable[[Facts], Inference | None]


def _went(kind: str) -> str:
    """How a connection ended, as a verb: 'was refused', 'timed out'."""
    return {
        "refused": "was refused",
        "timeout": "timed out",
        "unreachable": "found no route",
        "reset": "was reset",
    }.get(kind, f"failed ({kind})")


class _Cited(Protocol):
    @property
    def where(self) -> Where: ...


def _cite(f: _Cited | None) -> str:
    return f" ({f.where})" if f else ""


def _helper_unknown(f: Facts, inf: Inference, why: str) -> None:
    """Plain FTP through a NAT: an FTP helper there changes everything, and a client log
    cannot show one that did nothing. Both are tried."""
    if f.tls and f.tls.value == "none":
        inf.set("topology.helper", ["off", "on"], f"the log cannot tell whether the NAT runs an FTP helper: {why}")
        inf.undecided.append("whether the NAT runs an FTP helper (both are tried)")


def private_pasv(f: Facts) -> Inference | None:
    """The 227 names a private address, the client dialled it, and the connection failed."""
    a, u, fail = f.announced, f.used, f.failure
    if not (
        a and fail and fail.stage == "data-connect" and f.address_kind == "private" and u and u.value == "announced"
    ):
        return None
    assert f.control is not None
    inf = Inference(
        "private-pasv-address",
        f"The server advertised its private address {a.value.ip} in the 227 reply while the control "
        f"connection goes to {f.control.value[0]}; the client dialled {a.value.ip} and the connection "
        f"{_went(fail.kind)}.",
    )
    inf.set("topology.name", "server-nat", f"a server behind NAT: 227 names {a.value.ip}{_cite(a)}")
    inf.set("server.masquerade", "off", "the server advertises its own private address")
    if f.tls and f.tls.value == "none":
        inf.set("topology.helper", "off", f"plain FTP, yet the 227 arrived with {a.value.ip}: no helper rewrote it")
    return inf


def range_not_forwarded(f: Facts) -> Inference | None:
    """A passive data connection to the server's public address (or the control address)
    found nothing: the passive range is not forwarded."""
    fail, u, d = f.failure, f.used, f.data_dial
    if not (fail and fail.stage == "data-connect" and d and f.mode and f.mode.value in ("pasv", "epsv")):
        return None
    if f.mode.value == "pasv" and not (u and u.value == "control") and f.address_kind != "same":
        return None
    inf = Inference(
        "passive-range-not-forwarded",
        f"The client's passive data connection to {family.host_port(d.value.host, d.value.port)} "
        f"{_went(fail.kind)}: the server's address answers on the control port, not on the passive port.",
    )
    inf.set("topology.name", "server-nat", f"a firewall in front of the server{_cite(d)}")
    inf.set("topology.forward_range", "none", "it forwards the control port only")
    private = f.address_kind == "private"
    inf.set(
        "server.masquerade",
        "off" if private else "on",
        f"227 names {f.announced.value.ip}{_cite(f.announced)}" if f.announced and f.announced.value.ip else "EPSV",
    )
    _helper_unknown(f, inf, "with one, plain FTP's data connections are opened by the helper")
    return inf


def foreign_port(f: Facts) -> Inference | None:
    """An active-mode PORT/EPRT with the client's private address, refused by the server."""
    fail, a = f.failure, f.announced
    if not (
        fail and a and fail.stage in ("data-setup", "data-connect") and f.mode and f.mode.value in ("port", "eprt")
    ):
        return None
    if f.address_kind != "private":
        return None
    inf = Inference(
        "private-port-address",
        f"The client announced its private address {a.value.ip} in {a.said.split(' ')[0]}{_cite(a)}; "
        f"the server refused it or could not reach it: {fail.said}",
    )
    inf.set("topology.name", "client-nat", f"a client behind NAT: {a.said}{_cite(a)}")
    if f.tls and f.tls.value == "none":
        inf.set("topology.helper", "off", "plain FTP, yet the server saw the private address: no helper rewrote it")
    return inf


def foreign_data_source(f: Facts) -> Inference | None:
    """425: the data connection came from another address than the control connection."""
    fail = f.failure
    if not (fail and fail.kind == "reply 425" and re.search(r"foreign|do not match|not match|bad ip", fail.said, re.I)):
        return None
    inf = Inference(
        "data-from-another-address",
        f"The server refused the data connection as coming from another address than the control connection: {fail.said}",
    )
    inf.set(
        "topology.name",
        "client-multiwan",
        "a client-side NAT with several public addresses stands in: the log shows the refusal, not what changed the address",
    )
    inf.undecided.append("what gave the data connection another address (a multi-WAN NAT stands in)")
    return inf


def session_reuse(f: Facts) -> Inference | None:
    """The server requires the data connection's TLS session to resume the control's."""
    fail = f.failure
    if not (
        fail and fail.stage == "data-tls" and re.search(r"session reuse|not resumed|reuse required", fail.said, re.I)
    ):
        return None
    inf = Inference("session-reuse-required", f"The server requires TLS session reuse on data connections: {fail.said}")
    inf.set("topology.name", "direct", "the failure is between the client's and the server's TLS, not the network")
    if "522" in fail.kind and not f.server:
        inf.set(
            "server.impl",
            "vsftpd",
            f"vsftpd stands in: the log names no server, and it is the lab's server with a 522 of this wording{_cite(fail)}",
        )
        inf.undecided.append("the server software (the banner is not in the files; vsftpd stands in)")
    if f.transfers:
        inf.set("transfers", f.transfers + 1, f"{f.transfers} transfer(s) passed before this one")
    return inf


def not_resumed(f: Facts) -> Inference | None:
    """A data connection's TLS session was not resumed (a full handshake), and the server
    then closed it."""
    fail = f.failure
    if not (fail and fail.stage == "data-tls" and any(r.value == "not-resumed" for r in f.resumption)):
        return None
    r = next(r for r in f.resumption if r.value == "not-resumed")
    inf = Inference(
        "tls-session-not-resumed",
        f"The data connection's TLS handshake was a full one ({r.where}: the server's certificate again), "
        f"not a resumption of the control connection's session, and the server then closed it: {fail.said}",
    )
    inf.set("topology.name", "direct", "the failure is between the client's and the server's TLS, not the network")
    if f.transfers:
        inf.set("transfers", f.transfers + 1, f"{f.transfers} transfer(s) passed before this one")
    return inf


def certificate(f: Facts) -> Inference | None:
    fail = f.failure
    words = r"certificate|verify|issuer|unknown.?ca|bad.?certificate"
    if not (fail and fail.stage == "tls-handshake" and re.search(words, fail.said, re.I)):
        return None
    inf = Inference("certificate-not-trusted", f"The client did not trust the server's certificate: {fail.said}")
    inf.set("topology.name", "direct", "the failure is the certificate check, not the network")
    inf.set(
        "verify_cert", ["system"], "the client checks the certificate against its system CAs, which lack the server's"
    )
    return inf


def no_close_notify(f: Facts) -> Inference | None:
    """vsftpd's 426 after an upload whose data connection ended without TLS close_notify."""
    fail = f.failure
    said = next((r for r in f.refusals if re.search(r"^426 .*reading network stream", r.value, re.I)), None)
    if not (fail and fail.stage == "transfer" and said):
        return None
    inf = Inference("upload-without-close-notify", f"The server lost the end of an upload ({said.cite()})")
    inf.set("topology.name", "direct", "the failure is the data connection's TLS shutdown, not the network")
    inf.set(
        "clients.impl",
        "ftplib-abrupt",
        "a client that closes the data connection without TLS close_notify stands in: the log shows the 426, not how the client closed",
    )
    inf.undecided.append("how the client ended the data connection (ftplib-abrupt stands in)")
    return inf


def stall_after_auth(f: Facts) -> Inference | None:
    fail = f.failure
    if not (fail and fail.stage in ("tls-handshake", "data-tls", "transfer") and fail.kind == "timeout"):
        return None
    inf = Inference(
        "pmtu-black-hole",
        f"The session timed out in the middle of TLS or a transfer ({fail.said}). The files cannot tell why; "
        "a PMTU black hole (large packets vanish on the path) is the situation the lab builds for it.",
    )
    inf.undecided.append("why the session stalled (the files show only the timeout)")
    inf.set("topology.name", "server-nat", "a path through a firewall")
    inf.set("topology.mtu", 1400, "the log cannot tell the path's MTU; 1400 stands for a tunnel")
    inf.set("topology.icmp", "drop", "a black hole: the 'fragmentation needed' message never arrives")
    inf.undecided.append("the path's MTU (1400 stands in)")
    return inf


# In order: the first explanation whose facts hold is the one the scenario writes.
EXPLANATIONS: tuple[Explain, ...] = (
    private_pasv,
    foreign_port,
    foreign_data_source,
    range_not_forwarded,
    session_reuse,
    not_resumed,
    certificate,
    no_close_notify,
    stall_after_auth,
)


def explain(f: Facts) -> Inference:
    """The explanation of a failing ticket; NotReproducible when none holds."""
    fail = f.failure
    if fail is None:
        raise NotReproducible("the files show no failure: every step they show succeeded")
    if fail.stage == "connect":
        raise NotReproducible(
            f"the control connection never reached the server ({fail.cite()}): the files cannot tell "
            "what is between the client and the server; a lab cannot stand for it"
        )
    if fail.stage == "login":
        raise NotReproducible(f"the server refused the login ({fail.cite()}): credentials, not the network")
    for e in EXPLANATIONS:
        inf = e(f)
        if inf is not None:
            _common(f, inf)
            return inf
    raise NotReproducible(
        f"the failure at {fail.stage} ({fail.cite()}) matches none of the situations the harness builds "
        f"({', '.join(e.__name__.replace('_', '-') for e in EXPLANATIONS)})"
    )


# --- what every explanation shares --------------------------------------------------

CLIENTS = {"curl": "curl", "lftp": "lftp", "filezilla": "ftplib-reuse", "winscp": "ftplib-reuse"}


def _common(f: Facts, inf: Inference) -> None:
    fail = f.failure
    assert fail is not None
    tls = f.tls.value if f.tls else "none"
    inf.set("server.tls", tls, f.tls.cite() if f.tls else "no AUTH in the files")
    if inf.get("server.impl") is None:
        if f.server:
            inf.set("server.impl", f.server, f"the banner{_cite(f.banner)}: {f.banner.said if f.banner else ''}")
        else:
            said = f"the banner names no server the harness runs ({f.banner.said})" if f.banner else "no banner"
            inf.set("server.impl", "pyftpdlib", f"{said}; pyftpdlib stands in")
            inf.undecided.append("the server software (pyftpdlib stands in)")
    if inf.get("clients.impl") is None:
        _client(f, inf)
    first = next((m for m in f.modes if f.fallbacks), f.mode)
    if first is not None:
        inf.set("modes", [first.value], f"{first.said}{_cite(first)}")
    if f.tls_version and f.tls_version.value in ("TLSv1.2", "TLSv1.3"):
        inf.set("tls_version", [f.tls_version.value[4:]], f.tls_version.cite())
    inf.set("expect.outcome", "fail", "the ticket failed")
    inf.set("expect.stage", fail.stage, f"{fail.cite()} ({fail.kind})")


def _client(f: Facts, inf: Inference) -> None:
    impl = CLIENTS.get(f.client)
    if impl is None:  # a capture alone: the behaviour it shows picks the client
        offered = next((r for r in f.resumption if r.value in ("resume-offered", "resumed")), None)
        refused = next((r for r in f.resumption if r.value == "not-offered"), None)
        impl = "ftplib" if refused and not offered else "ftplib-reuse"
        why = (
            f"its data connection offered TLS session resumption ({offered.where})"
            if offered
            else f"its data connection offered no TLS session resumption ({refused.where})"
            if refused
            else "ftplib-reuse stands in"
        )
        inf.set("clients.impl", impl, f"the capture does not name the client; {why}")
    else:
        alike = (
            ""
            if impl == f.client
            else f" ({f.client} is not a client the harness runs; {impl} behaves alike: it reuses TLS sessions)"
        )
        inf.set("clients.impl", impl, f"the log is {f.client}'s{alike}")
    if f.mode and f.mode.value == "pasv" and f.used:
        policy = "control" if f.used.value == "control" else "trust"
        how = (
            "replaced the 227's address with the control connection's"
            if policy == "control"
            else "dialled the 227's address"
        )
        inf.set("clients.pasv_address", policy, f"the client {how}{_cite(f.used)}")
