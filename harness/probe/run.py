"""One probe of one server: discovery, TLS posture, certificate, each mode, the security
checks; facts from session.py, findings from findings.py, a ProbeReport out."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, TypedDict

import servers
from clients.python_ftplib import agent as fp
from harness.core import family
from harness.core.case import DATA_MODES
from harness.core.family import classify, private
from harness.judge.findings import Finding, at_or_above, banner_version, finding
from harness.judge.stages import ACTIVITY_STAGE, place
from harness.observe.observation import ClientReport
from harness.probe import session as S
from harness.probe.certificate import certificate
from harness.probe.model import DataConnection, Features, Line, ModeResult, ProbeReport, TlsPosture

# What each stage means to an operator (the error itself follows).
STAGE_WORDS = {
    "connect": "the control connection or the greeting failed",
    "tls-handshake": "the TLS handshake on the control connection failed",
    "login": "login was refused",
    "data-setup": "the data connection could not be negotiated",
    "data-connect": "the data connection could not be opened",
    "data-tls": "the TLS handshake on the data connection failed",
    "transfer": "the transfer failed",
    "integrity": "the downloaded file differs from the uploaded one",
}
KIND_WORDS = {
    "oversize": "The server broke the probe's size bound, so it stopped reading: ",
    "trickle": "The server did not complete its reply in time (it trickles or stalls): ",
    "foreign-pasv": "",
}


@dataclass(frozen=True)
class Options:
    modes: tuple[str, ...] = DATA_MODES
    fail_on: str = "high"
    bounce_target: tuple[str, int] | None = None
    command: str = ""


def _lines(raw: list[dict[str, Any]]) -> tuple[Line, ...]:
    return tuple(Line(l["dir"], l["line"], l.get("t")) for l in raw)


def _data(recs: list[dict[str, Any]]) -> tuple[DataConnection, ...]:
    out = []
    for d in recs:
        target = d.get("target") or d.get("listen")
        out.append(
            DataConnection(
                cmd=d.get("cmd", "?"),
                reply=d.get("reply"),
                advertised=d.get("advertised_ip"),
                address_class=classify(d.get("advertised_ip"), d["control_peer"]) if d.get("control_peer") else None,
                target=target,
                result=d.get("connect"),
                tls_version=d.get("tls_version"),
                cipher=d.get("cipher"),
                session_reused=d.get("session_reused"),
                bytes=d.get("bytes"),
                final=d.get("final"),
            )
        )
    return tuple(out)


def _diagnosis(stage: str, kind: str, error: str) -> str:
    return f"{STAGE_WORDS.get(stage, stage).capitalize()}. {KIND_WORDS.get(kind, '')}{error}"


def mode_result(mode: str, tls: str, report: ClientReport, sess: fp.Session) -> ModeResult:
    data = _data(sess.data)
    undecodable = tuple(sess.wire.undecodable) if sess.wire else ()
    if report.ok:
        return ModeResult(
            mode,
            "pass",
            diagnosis="listed" + (" and downloaded" if any(s.name == "retr" for s in report.steps) else ""),
            lines=_lines(sess.transcript),
            data=data,
            undecodable=undecodable,
            duration_s=report.duration_s,
        )
    f = report.failure
    assert f is not None, "a report that is not ok says why"
    p = place(report, tls, "ftplib")
    evidence = tuple(x for x in (f.reply, *(d.get("late_reply") for d in sess.data)) if x)
    return ModeResult(
        mode,
        "fail",
        p.stage,
        f.kind,
        _diagnosis(p.stage, f.kind, f.error),
        evidence,
        _lines(sess.transcript),
        data,
        (),
        undecodable,
        report.duration_s,
    )


def _from_talk(stage_of_failure: S.Talk, mode: str) -> ModeResult:
    """A mode that was never tried because the server could not even be greeted."""
    f = stage_of_failure.failure
    assert f is not None, "the greeting failed"
    stage = ACTIVITY_STAGE.get(f.step, f.step)
    return ModeResult(
        mode,
        "fail",
        stage,
        f.kind,
        _diagnosis(stage, f.kind, f.error),
        tuple(x for x in (f.reply,) if x),
        _lines(stage_of_failure.lines),
        undecodable=tuple(stage_of_failure.undecodable),
    )


def _features(d: S.Talk) -> Features:
    feat = d.replies.get("FEAT", "")
    answered = feat[:3] == "211"
    body = []
    seen = False
    for l in d.lines:
        if l["dir"] == "sent" and l["line"].startswith("FEAT"):
            seen = True
            continue
        if seen and l["dir"] == "recv":
            body.append(l["line"])
            if l["line"][:4] == "211 " or l["line"][:1] in "45":
                break
    lines = tuple(body)
    words = {ln.strip().split(" ")[0].upper() for ln in lines[1:-1]}
    auth = any(ln.strip().upper().startswith("AUTH") and "TLS" in ln.upper() for ln in lines)

    def have(w: str) -> bool | None:
        return (w in words) if answered else None

    return Features(
        answered,
        lines,
        auth if answered else None,
        have("CCC"),
        have("EPSV"),
        have("EPRT"),
        have("MLSD"),
        evidence=("from FEAT; EPSV and EPRT also by the mode sessions below",) if answered else (),
    )


class _Base(TypedDict):
    """What every ProbeReport of a probe says, however far it got."""

    target: str
    host: str
    port: int
    tls: str
    started: str
    fail_on: str
    user: str
    command: str


def probe(t: S.Target, o: Options) -> ProbeReport:
    t0 = time.monotonic()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    base = _Base(
        target=family.host_port(t.host, t.port),
        host=t.host,
        port=t.port,
        tls=t.tls,
        started=started,
        fail_on=o.fail_on,
        user=t.user,
        command=o.command,
    )
    findings: list[Finding] = []
    notes: list[str] = []
    d = S.discover(t)
    banner = []
    for l in d.lines:  # the greeting: every line received before the first thing sent
        if l["dir"] == "sent":
            break
        banner.append(l["line"])
    if d.failure and d.failure.step in ("connect", "greeting", "auth-tls", "tls-handshake") and not d.replies:
        if d.failure.step == "connect":
            return ProbeReport(
                **base,
                outcome="fail",
                reached=False,
                unreached=_unreached(d.failure),
                duration_s=round(time.monotonic() - t0, 2),
            )
        untried = tuple(_from_talk(d, m) for m in o.modes)
        findings += _utf8(untried)
        return ProbeReport(
            **base,
            outcome="fail",
            reached=True,
            banner=tuple(banner),
            modes=untried,
            findings=tuple(findings),
            notes=("The greeting failed, so no mode was tried.",),
            duration_s=round(time.monotonic() - t0, 2),
        )
    feats = _features(d)
    if t.tls == "explicit" and not feats.auth_tls:  # the mode was resolved by a 234 to AUTH TLS
        known = servers.identify(tuple(banner))
        why = known.quirks.get("feat-omits-auth-tls") if known else None
        feats = replace(
            feats,
            auth_tls=True,
            evidence=feats.evidence
            + ("AUTH TLS: not listed in FEAT, but answered 234" + (f" ({why})" if why else ""),),
        )
    if v := banner_version(tuple(banner)):
        findings.append(finding("banner-version", f"greeting: {' / '.join(banner)} (gives {v})"))
    user_reply = d.replies.get("USER")
    if t.tls == "explicit" and user_reply and user_reply[:1] in "23":
        findings.append(finding("plaintext-login", f"USER {t.user} before AUTH TLS was answered: {user_reply}"))

    posture, cert = None, None
    if t.tls != "none":
        posture, cert_talk = _tls_posture(t, findings, notes)
        if cert_talk.cert:
            cert = certificate(cert_talk.cert, t, findings)

    modes: list[ModeResult] = []
    for m in o.modes:
        report, sess = S.mode_session(t, m)
        modes.append(mode_result(m, t.tls, report, sess))
    modes = _address_findings(modes, findings, t)
    reuse = _session_reuse(t, modes) if t.tls != "none" else None
    feats = replace(
        feats,
        session_reuse_required=reuse[0] if reuse else None,
        evidence=feats.evidence + ((reuse[1],) if reuse else ()),
    )

    logged = any(m.stage not in ("connect", "tls-handshake", "login") for m in modes)
    if t.user == "anonymous" and logged:
        login = next((l.line for m in modes for l in m.lines if l.dir == "recv" and l.line[:3] == "230"), "")
        findings.append(finding("anonymous", f"USER anonymous / PASS probe@example.com → {login}"))
    elif t.user != "anonymous":
        a = S.anonymous(t)
        if a.failure is None:
            findings.append(finding("anonymous", "USER anonymous / PASS probe@example.com → " + _first_recv(a, "230")))
    if t.tls != "none" and logged:
        c = S.ccc(t)
        r = c.replies.get("CCC", "")
        if r:
            feats = replace(feats, ccc=r[:1] == "2", evidence=feats.evidence + (f"CCC tried: {r}",))
        pc = S.prot_c(t)
        r = pc.replies.get("PROT", "")
        if r[:1] == "2" and "clear-LIST" in pc.replies:
            findings.append(finding("prot-c-accepted", f"PROT C → {r}; LIST → {pc.replies['clear-LIST']}"))
        elif r[:1] == "2":
            notes.append(
                f"PROT C was answered {r!r}, but a cleartext listing was then refused: "
                f"{pc.replies.get('clear-LIST-refused', 'no reply')}"
            )
    if o.bounce_target:
        findings += _bounce(t, *o.bounce_target)
    findings += _utf8(tuple(modes), d)
    modes = _attach(modes, findings)
    bad = any(m.outcome != "pass" for m in modes) or any(at_or_above(f, o.fail_on) for f in findings)
    return ProbeReport(
        **base,
        outcome="fail" if bad else "pass",
        reached=True,
        banner=tuple(banner),
        features=feats,
        tls_posture=posture,
        certificate=cert,
        modes=tuple(modes),
        findings=tuple(findings),
        notes=tuple(notes),
        duration_s=round(time.monotonic() - t0, 2),
    )


def _unreached(f: fp.StepFailed) -> str:
    words = {
        "refused": "the host refused the connection (nothing listens on that port, or a firewall rejects it)",
        "timeout": "no answer within the timeout (a firewall drops the packets, or the host is down)",
        "unreachable": "no route to the host",
    }
    if "gaierror" in f.error:
        return f"the name does not resolve here: {f.error}"
    return f"{words.get(f.kind, 'the connection failed')}: {f.error}"


def _first_recv(t: S.Talk, code: str) -> str:
    return next((l["line"] for l in t.lines if l["dir"] == "recv" and l["line"].startswith(code)), "")


def _tls_posture(t: S.Target, findings: list[Finding], notes: list[str]) -> tuple[TlsPosture, S.Talk]:
    main = S.handshake(t)
    accepted, refused, untested = [], [], []
    for v in ("1.0", "1.1", "1.2", "1.3"):
        h = S.handshake(t, tls_version=v, ciphers="DEFAULT:@SECLEVEL=0" if v in S.OLD_TLS else None)
        if h.failure is None:
            accepted.append(v)
        elif h.failure.kind == "local" or "no protocols available" in h.failure.error:
            untested.append(v)
        else:
            refused.append(v)
    old = [v for v in accepted if v in S.OLD_TLS]
    if old:
        findings.append(finding("old-tls", "handshakes pinned to TLS " + " and ".join(old) + " succeeded"))
    if untested:
        notes.append(f"TLS {', '.join(untested)} not tested: this machine's TLS library cannot offer it.")
    weak = S.handshake(t, tls_version="1.2", ciphers=S.WEAK_CIPHERS)
    weak_note = ""
    if weak.failure is None:
        findings.append(finding("weak-cipher", f"a handshake offering only weak suites agreed on {weak.cipher}"))
    elif weak.failure.kind == "local":
        weak_note = "not tested: this machine's TLS library offers none of the weak suites"
    else:
        weak_note = f"refused when only weak suites were offered ({weak.failure.error[:120]})"
    posture = TlsPosture(
        main.tls_version,
        main.cipher,
        tuple(accepted),
        tuple(refused),
        tuple(untested),
        weak.cipher if weak.failure is None else None,
        weak_note,
    )
    return posture, main


def _address_findings(modes: list[ModeResult], findings: list[Finding], t: S.Target) -> list[ModeResult]:
    for cls, name in (("private", "private-address"), ("third-party", "third-party-pasv")):
        hits = [
            (m, d) for m in modes for d in m.data if d.address_class == cls and d.reply and d.reply.startswith("227")
        ]
        if cls == "private" and private(t.host):
            hits = []  # the control peer is private too: a LAN, not a leak
        if hits:
            _m, d = hits[0]
            findings.append(
                finding(name, f"{d.reply} (control peer {t.host})", tuple(dict.fromkeys(m.mode for m, _ in hits)))
            )
    return modes


def _session_reuse(t: S.Target, modes: list[ModeResult]) -> tuple[bool | None, str] | None:
    """Does the server require the data connection to reuse the control's TLS session?
    Tried on a mode that passed with reuse: the same listing without it."""
    ok = next((m for m in modes if m.outcome == "pass" and m.data), None)
    if ok is None:
        return None, "session reuse: not tested (no mode reached a data connection)"
    report, sess = S.mode_session(t, ok.mode, reuse=False, lists=1, download=None, write=False)
    if report.ok:
        return False, f"session reuse: not required ({ok.mode} listing passed without reusing the session)"
    r = mode_result(ok.mode, t.tls, report, sess)
    if r.stage in ("data-tls", "transfer"):  # the one difference from the passing run
        return True, (
            f"session reuse: required ({ok.mode} passed reusing the session and failed without "
            f"at {r.stage}: {' | '.join(r.evidence) or r.diagnosis})"
        )
    return None, f"session reuse: unknown (without reuse the {ok.mode} listing failed at {r.stage})"


def _bounce(t: S.Target, host: str, port: int) -> list[Finding]:
    b = S.bounce(t, host, port)
    cmd = "EPRT" if ":" in host else "PORT"
    r = b.replies.get(cmd, "")
    if r[:1] != "2":
        return []
    tail = f"; LIST → {b.replies.get('LIST', 'no reply')}"
    if "LIST-final" in b.replies:
        tail += f"; then {b.replies['LIST-final']}"
    return [finding("ftp-bounce", f"{cmd} to {host}:{port} → {r}{tail}")]


def _utf8(modes: Iterable[ModeResult], d: S.Talk | None = None) -> list[Finding]:
    bad = [*(d.undecodable if d else ()), *(u for m in modes for u in m.undecodable)]
    if not bad:
        return []
    return [finding("non-utf8", f"{len(bad)} line(s) decoded with replacement, e.g. {bad[0]!r}")]


def _attach(modes: list[ModeResult], findings: list[Finding]) -> list[ModeResult]:
    """Each mode carries the findings that apply to it: its own, and the server-wide ones
    for a mode that reached the point where they show (a pass stays a pass)."""
    out = []
    for m in modes:
        names = tuple(f.check for f in findings if (m.mode in f.modes) or (not f.modes and m.stage not in ("connect",)))
        out.append(replace(m, findings=tuple(dict.fromkeys(names))))
    return out
