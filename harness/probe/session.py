"""The probe's conversations with one live server, from this machine, through its real
network. Every session is the matrix's ftplib agent (clients/python_ftplib/agent.py) with its
bounds; this module only decides which sessions to hold and keeps their facts."""

from __future__ import annotations

import ftplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from clients._wire import Bounds, Hostile
from clients.python_ftplib import agent as fp
from clients.python_ftplib.agent import Request
from harness.core import family
from harness.observe.observation import Activity, ClientReport

OLD_TLS = ("1.0", "1.1")
WEAK_CIPHERS = "RC4:3DES:DES:NULL:eNULL:aNULL:EXPORT:MD5:@SECLEVEL=0"


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    tls: str  # explicit | implicit | none (auto is resolved before)
    user: str = "anonymous"
    password: str = "probe@example.com"
    ca: str | None = None
    verify: bool = False
    tls_version: str | None = None
    timeout: float = 5.0
    pasv_address: str = "trust"
    follow_foreign_pasv: bool = False
    transfers: int = 1
    write: bool = False
    download: str | None = None
    bounds: Bounds = field(default_factory=Bounds)

    def req(self, mode: str = "pasv", **over: Any) -> Request:
        r = Request(
            host=self.host,
            port=self.port,
            tls=self.tls,
            mode=mode,
            pasv_address=self.pasv_address,
            ca=self.ca,
            user=self.user,
            password=self.password,
            timeout=self.timeout,
            connect_timeout=self.timeout,
            size=65536,
            reuse=True,
            verify=self.verify,
            tls_version=self.tls_version,
            tls_exact=True,
            follow_foreign_pasv=self.follow_foreign_pasv,
            write=self.write,
            lists=self.transfers,
            download=self.download,
            bounds=self.bounds,
        )
        return replace(r, **over)


@dataclass
class Talk:
    """One short conversation: its lines, where it stopped and why."""

    lines: list[dict[str, Any]] = field(default_factory=list)
    failure: fp.StepFailed | None = None
    replies: dict[str, str] = field(default_factory=dict)  # what we asked -> the reply
    tls_version: str | None = None
    cipher: str | None = None
    cert: bytes | None = None
    undecodable: list[str] = field(default_factory=list)


def _nothing(*_a: Any, **_k: Any) -> None:
    pass


def talk(req: Request, script: Callable[[fp.Session, Talk], Any]) -> Talk:
    """Run `script(sess, talk)` on a fresh session; any failure is kept, never raised."""
    out = Talk()
    try:
        ctx = fp.client_context(req)
    except (ssl.SSLError, ValueError) as e:  # this machine's TLS library cannot offer it
        out.failure = fp.StepFailed("tls-handshake", f"cannot offer this here: {e}", "local")
        return out
    sess = fp.Session(req, ctx)
    try:
        script(sess, out)
    except fp.StepFailed as e:
        out.failure = e
    except Hostile as e:
        out.failure = fp.StepFailed(sess.step, str(e), e.kind)
    except (OSError, EOFError, ftplib.Error) as e:
        out.failure = fp.StepFailed(sess.step, fp._describe(e), fp._kind(e))
    finally:
        if isinstance(sess.sock, ssl.SSLSocket):
            try:
                out.tls_version = sess.sock.version()
                out.cipher = (sess.sock.cipher() or (None,))[0]
                out.cert = sess.sock.getpeercert(binary_form=True)
            except (AttributeError, ValueError, OSError):  # TLS already shut down (CCC)
                pass
        out.lines = list(sess.transcript)
        out.undecodable = list(sess.wire.undecodable) if sess.wire else []
        try:
            sess.close()
        except OSError:
            pass
    return out


def _ask(sess: fp.Session, out: Talk, step: Activity, cmd: str) -> str:
    """Send `cmd` and keep its reply, whatever the code."""
    out.replies[cmd.split()[0]] = reply = sess.command(step, cmd, ok="12345")
    return reply


def discover(t: Target) -> Talk:
    """Greeting and FEAT; for explicit TLS, USER sent before AUTH (no password ever)."""

    def script(sess: fp.Session, out: Talk) -> None:
        req = sess.req
        fp.greet(sess, req, _nothing)
        _ask(sess, out, "greeting", "FEAT")
        if t.tls == "explicit":
            _ask(sess, out, "login", f"USER {t.user}")
        _ask(sess, out, "quit", "QUIT")

    return talk(t.req(tls="none" if t.tls == "explicit" else t.tls, verify=False), script)


def handshake(t: Target, **over: Any) -> Talk:
    """A TLS handshake only (AUTH TLS first when explicit), e.g. with one version pinned."""

    def script(sess: fp.Session, out: Talk) -> None:
        fp.greet(sess, sess.req, _nothing)
        fp.secure(sess, sess.req, _nothing)
        _ask(sess, out, "quit", "QUIT")

    return talk(t.req(**{"verify": False, **over}), script)


def logged_in(t: Target, then: Callable[[fp.Session, Talk], None], **over: Any) -> Talk:
    """Log in (TLS and PROT P as the target says), then `then(sess, out)`."""

    def script(sess: fp.Session, out: Talk) -> None:
        fp.open_control(sess, sess.req, _nothing)
        then(sess, out)
        _ask(sess, out, "quit", "QUIT")

    return talk(t.req(**over), script)


def prot_c(t: Target) -> Talk:
    """PROT C after a TLS login; if accepted, a listing over a cleartext data connection
    (some servers say 200 and refuse the cleartext transfer later)."""

    def then(sess: fp.Session, out: Talk) -> None:
        if _ask(sess, out, "protect", "PROT C")[:1] != "2":
            return
        sess._prot_p = False
        try:
            listing = fp.retr(sess, "LIST")
            out.replies["clear-LIST"] = f"{len(listing)} bytes listed in cleartext"
        except fp.StepFailed as e:
            out.replies["clear-LIST-refused"] = e.reply or e.error

    return logged_in(t, then, mode="epsv")


def ccc(t: Target) -> Talk:
    """CCC after a TLS login: a 2xx means the control channel may go back to plaintext
    (the TLS layer is then closed and QUIT is sent in the clear)."""

    def then(sess: fp.Session, out: Talk) -> None:
        if _ask(sess, out, "protect", "CCC")[:1] == "2" and isinstance(sess.sock, ssl.SSLSocket):
            try:
                sess.attach(sess.sock.unwrap())
            except (OSError, ssl.SSLError) as e:
                out.replies["CCC-unwrap"] = fp._describe(e)

    return logged_in(t, then)


def anonymous(t: Target) -> Talk:
    return logged_in(replace(t, user="anonymous", password="probe@example.com"), lambda s, o: None)


def bounce(t: Target, host: str, port: int) -> Talk:
    """PORT (or EPRT) to the address the user named, then LIST so the server tries it."""

    def then(sess: fp.Session, out: Talk) -> None:
        cmd = (family.encode_eprt if ":" in host else family.encode_port)(host, port)
        if _ask(sess, out, "negotiate", cmd)[:1] == "2":
            reply = _ask(sess, out, "transfer-reply", "LIST")
            if reply[:1] == "1":
                out.replies["LIST-final"] = sess.reply("final-reply")

    return logged_in(t, then)


def mode_session(t: Target, mode: str, **over: Any) -> tuple[ClientReport, fp.Session]:
    """One mode's session: the matrix probe's session, listing (and downloading) only."""
    return fp.session(t.req(mode, **over))


def resolve_tls(host: str, port: int | None, timeout: float, bounds: Bounds) -> tuple[str, int]:
    """--tls auto: explicit if AUTH TLS is answered 234; implicit if the port (or 990 when no
    port is given) speaks TLS at once; else none."""
    base = Target(host, port or 21, "none", timeout=timeout, bounds=bounds)

    def script(s: fp.Session, o: Talk) -> None:
        fp.greet(s, s.req, _nothing)
        _ask(s, o, "auth-tls", "AUTH TLS")

    t = talk(base.req(), script)
    if t.replies.get("AUTH", "")[:3] == "234":
        return "explicit", base.port
    greeted = any(l["dir"] == "recv" for l in t.lines)
    for p in ([base.port] if port and not greeted else []) + ([990] if port is None else []):
        h = handshake(replace(base, port=p, tls="implicit"))
        if h.tls_version:
            return "implicit", p
    return "none", base.port
