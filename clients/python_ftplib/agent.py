"""The ftplib agent: a real FTP/FTPS session with Python's ftplib, run inside the client host.

It records facts only: each step's result, every control line sent and received, and each
data connection (what was advertised, where it connected, what happened), and where it
failed as the activity it was in. Judgement is the harness's job: harness/judge/stages.py
places a failure, harness/judge/checks/ judges. `ftps-harness probe` holds its
conversations with live servers through the same steps (harness/probe/session.py).

Run as `python -m clients.python_ftplib.agent --agent`: it reads one Request (JSON) per
stdin line and answers with one ClientReport (JSON) per stdout line, so one interpreter
serves many cases.
"""

from __future__ import annotations

import errno
import ftplib
import hashlib
import json
import os
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from clients._cli import connection
from clients._wire import BoundedReader, Bounds, ClearTap, Hostile, RaggedEOF, handshake, read_data
from harness.core import codec, family
from harness.core.case import PASSIVE_MODES
from harness.core.family import classify
from harness.core.tls import mode as tls_mode
from harness.observe.observation import Activity, ClientReport, ControlLine, Failure, Step


@dataclass(frozen=True)
class Request:
    """One session to hold: where, how, and what to do."""

    host: str
    port: int
    tls: str  # none | explicit | implicit | ccc
    mode: str = "pasv"  # pasv | epsv | port | eprt
    pasv_address: str = "control"  # trust: connect where the 227 reply says
    user: str = "anonymous"
    password: str = ""
    ca: str | None = None  # the CA bundle to verify the server against
    timeout: float = 4.0  # per network step
    connect_timeout: float = 2.0
    size: int = 1 << 20  # bytes uploaded and downloaded
    transfers: int = 1  # upload+download rounds in one control session
    busy: int = 0  # other sessions holding passive ports open meanwhile
    cwd: str | None = None  # change to this directory before writing
    reuse: bool = False  # pass the control connection's TLS session to data connections
    close_notify: bool = True  # send a TLS close_notify before closing a data connection
    keylog: str | None = None  # write TLS secrets here
    keepalive: int = 0  # TCP keepalive on the control connection every N seconds
    tls_version: str | None = None  # the highest version offered (the only one with tls_exact)
    tls_exact: bool = False
    verify_cert: str = "on"  # on (against ca), system (the system CAs only), off
    verify: bool = True  # False: no certificate check at all
    check_hostname: bool = True
    ciphers: str | None = None
    follow_foreign_pasv: bool = False  # connect to a third-party address a 227 reply names
    write: bool = True  # False (the outside-in probe): list and download only
    lists: int = 1
    download: str | None = None  # a file to download when not writing
    bounds: Bounds | None = None  # read bounds (default: from the timeout)


Done = Callable[..., None]  # records a step the session completed


class StepFailed(Exception):
    """The session stopped in `step`: the activity it was in."""

    def __init__(self, step: Activity, error: str, kind: str = "error", reply: str | None = None):
        super().__init__(error)
        self.step, self.error, self.kind, self.reply = step, error, kind, reply


class Stopped(TimeoutError):
    """A wait the harness stopped: a middlebox dropped what it waits for (harness/run/early_stop.py)."""


class _Stop:
    """SIGUSR1 from the harness (harness/run/early_stop.py) ends the current wait (a connect, an
    accept, a reply) as the timeout would have; a signal outside such a wait is ignored."""

    waiting = False
    fired = False

    def handler(self, signum: int, frame: Any) -> None:
        if self.waiting:
            self.waiting, self.fired = False, True
            raise Stopped("the harness stopped the wait: a middlebox dropped what it waited for")

    @contextmanager
    def wait(self) -> Iterator[None]:
        self.waiting = True
        try:
            yield
        finally:
            self.waiting = False


STOP = _Stop()


def _kind(exc: BaseException) -> str:
    """A short, stable name for what a socket error means on the wire."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "tls-verify"
    if isinstance(exc, ssl.SSLError):
        return "tls-error"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable"
    if isinstance(exc, EOFError):
        return "eof"
    return "error"


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _cleartext(exc: BaseException, tap: ClearTap | None, sock: socket.socket) -> str | None:
    """What the server wrote in clear where TLS belonged, if TLS failed on it (`exc`); as
    latin-1, one character per byte."""
    if tap is None or not isinstance(exc, ssl.SSLError) or isinstance(exc, ssl.SSLCertVerificationError):
        return None
    return tap.cleartext(sock, exc)


def _handshake(ctx: ssl.SSLContext, sock: socket.socket, rec: dict[str, Any], **kw: Any) -> ssl.SSLSocket:
    """`sock` wrapped in TLS, hands shaken. When TLS fails on what the server wrote in clear,
    `rec` (the connection's record) keeps those bytes as `cleartext`."""
    tls = ctx.wrap_socket(sock, do_handshake_on_connect=False, **kw)
    tap = ClearTap()
    try:
        handshake(tls, tap)
    except OSError as e:  # ssl.SSLError is one
        if clear := _cleartext(e, tap, tls):
            rec["cleartext"] = clear
        tls.close()
        raise
    return tls


class Session(ftplib.FTP_TLS):
    """FTP_TLS that records its transcript and opens data connections step by step."""

    _prot_p: bool  # FTP_TLS's own flag (set by its __init__ and prot_p()), not in its stubs

    def __init__(self, req: Request, context: ssl.SSLContext | None):
        super().__init__(context=context, timeout=req.timeout)
        self.req = req
        self.t0 = time.monotonic()
        self.transcript: list[dict[str, Any]] = []
        self.data: list[dict[str, Any]] = []
        self.control: dict[str, Any] | None = None
        self.tls_session: ssl.SSLSession | None = None  # the control connection's, kept across CCC
        self.step: Activity = "connect"
        self.bounds = req.bounds or Bounds(step_s=max(3 * req.timeout, 5.0))
        self.wire: BoundedReader | None = None

    def _t(self) -> float:
        return round(time.monotonic() - self.t0, 4)

    # -- transcript hooks (ftplib calls these for every control line) --------
    def putline(self, line: str) -> None:
        shown = "PASS ******" if line.startswith("PASS ") else line
        self.transcript.append({"t": self._t(), "dir": "sent", "line": shown})
        super().putline(line)

    def attach(self, sock: socket.socket) -> None:
        """Read replies from `sock` from now on (after connect and after a TLS handshake)."""
        self.sock, self.file = sock, None
        self.wire = BoundedReader(sock, self.bounds)

    def getline(self) -> str:
        assert self.wire is not None, "attach() comes first"
        line = self.wire.line()
        self.transcript.append({"t": self._t(), "dir": "recv", "line": line})
        return line

    def getmultiline(self) -> str:
        assert self.wire is not None, "attach() comes first"
        self.wire.start_reply()
        return super().getmultiline()

    def reply(self, step: Activity) -> str:
        """Read one reply; socket trouble becomes a StepFailed at `step`."""
        try:
            with STOP.wait():  # a reply the conntrack helper dropped never comes
                return self.getmultiline()
        except Hostile as e:
            raise StepFailed(step, str(e), e.kind) from e
        except (OSError, EOFError) as e:
            self.keep_cleartext(e)
            raise StepFailed(step, _describe(e), _kind(e)) from e

    def keep_cleartext(self, exc: BaseException) -> None:
        """When TLS failed on the control connection on bytes the server wrote in clear, keep them."""
        if self.wire is not None and self.sock is not None and self.control is not None:
            if clear := _cleartext(exc, self.wire.tap, self.sock):
                self.control.setdefault("cleartext", clear)

    def command(self, step: Activity, cmd: str, ok: str = "23") -> str:
        try:
            self.putcmd(cmd)
        except OSError as e:
            raise StepFailed(step, _describe(e), _kind(e)) from e
        resp = self.reply(step)
        if resp[:1] not in ok:
            raise StepFailed(step, f"server replied {resp!r} to {cmd.split()[0]}", "reply", resp)
        return resp

    def drain(self, wait: float = 0.5) -> str | None:
        """A reply the server may have sent that nobody read yet (its real reason)."""
        assert self.sock is not None, "connected"
        try:
            self.sock.settimeout(wait)
            return self.getmultiline()
        except (OSError, EOFError, Hostile) as e:
            self.keep_cleartext(e)
            return None
        finally:
            try:
                self.sock.settimeout(self.req.timeout)
            except OSError:
                pass

    # -- data connections ----------------------------------------------------
    def open_data(self, cmd: str, rest: dict[str, Any]) -> socket.socket:
        """Negotiate a data connection for `cmd` and return the connected socket."""
        mode = self.req.mode
        rec: dict[str, Any] = {"cmd": cmd.split()[0], "mode": mode}
        self.data.append(rec)
        rest["rec"] = rec
        if mode in PASSIVE_MODES:
            return self._passive(cmd, mode, rec)
        return self._active(cmd, mode, rec)

    def _passive(self, cmd: str, mode: str, rec: dict[str, Any]) -> socket.socket:
        assert self.sock is not None, "connected"
        peer = self.sock.getpeername()[0]
        cmd_word, parse = ("PASV", family.parse_227) if mode == "pasv" else ("EPSV", family.parse_229)
        resp = self.command("negotiate", cmd_word, ok="2")
        try:
            ep = parse(resp)
        except ValueError as e:
            raise StepFailed("negotiate", str(e), "parse", resp) from e
        adv_ip, adv_port = ep.ip, ep.port
        host = adv_ip if mode == "pasv" and self.req.pasv_address == "trust" else peer
        if (
            mode == "pasv"
            and host == adv_ip
            and classify(adv_ip, peer) == "third-party"
            and not self.req.follow_foreign_pasv
        ):
            rec.update(
                reply=resp,
                advertised_ip=adv_ip,
                advertised_port=adv_port,
                control_peer=peer,
                note="third-party address: not followed",
            )
            raise StepFailed(
                "negotiate",
                f"the 227 reply points to {adv_ip}, a third party "
                f"(neither the control peer {peer} nor its network); not "
                "connecting there (--follow-foreign-pasv to allow)",
                "foreign-pasv",
                resp,
            )
        rec.update(
            reply=resp, advertised_ip=adv_ip, advertised_port=adv_port, target=f"{host}:{adv_port}", control_peer=peer
        )
        try:
            with STOP.wait():
                conn = socket.create_connection((host, adv_port), timeout=self.req.connect_timeout)
            conn.settimeout(self.req.timeout)
        except OSError as e:
            rec["connect"] = _kind(e)
            rec["late_reply"] = self.drain(0.15)
            raise StepFailed("data-connect", f"connect to {host}:{adv_port}: {_describe(e)}", _kind(e)) from e
        rec["connect"] = "ok"
        rec["local"] = family.host_port(*conn.getsockname()[:2])
        self._start_transfer(cmd, rec, conn)
        return conn

    def _active(self, cmd: str, mode: str, rec: dict[str, Any]) -> socket.socket:
        assert self.sock is not None, "connected"
        local_ip = self.sock.getsockname()[0]
        lsock = socket.create_server((local_ip, 0), family=self.sock.family)
        lsock.settimeout(self.req.timeout)
        port = lsock.getsockname()[1]
        arg = (family.encode_port if mode == "port" else family.encode_eprt)(local_ip, port)
        rec.update(sent=arg, listen=f"{local_ip}:{port}")
        try:
            resp = self.command("negotiate", arg, ok="2")
            rec["reply"] = resp
            self._start_transfer(cmd, rec, None)
            try:
                with STOP.wait():
                    conn, addr = lsock.accept()
            except OSError as e:
                rec["connect"] = _kind(e)
                rec["late_reply"] = self.drain(0.15)
                raise StepFailed(
                    "data-connect", f"no data connection arrived on {local_ip}:{port}: {_describe(e)}", _kind(e)
                ) from e
            rec.update(connect="ok", peer=family.host_port(*addr[:2]))
            conn.settimeout(self.req.timeout)
            return conn
        except StepFailed as sf:
            rec.setdefault("reply", sf.reply)
            raise
        finally:
            lsock.close()

    def _start_transfer(self, cmd: str, rec: dict[str, Any], conn: socket.socket | None) -> None:
        try:
            self.putcmd(cmd)
        except OSError as e:
            raise StepFailed("transfer-command", _describe(e), _kind(e)) from e
        resp = self.reply("transfer-reply")
        rec["preliminary"] = resp
        if resp[:1] != "1":
            if conn is not None:
                conn.close()
            raise StepFailed("transfer-reply", f"server replied {resp!r} to {cmd.split()[0]}", "reply", resp)

    def secure_data(self, conn: socket.socket, rec: dict[str, Any]) -> socket.socket:
        if not self._prot_p:
            return conn
        try:
            # after CCC the control socket is plain: reuse the session it had under TLS
            session = (getattr(self.sock, "session", None) or self.tls_session) if self.req.reuse else None
            tls = _handshake(
                self.context, conn, rec, server_hostname=self.host, session=session, suppress_ragged_eofs=False
            )
        except (OSError, ssl.SSLError) as e:
            rec["tls"] = _kind(e)
            rec["late_reply"] = self.drain(0.25)
            conn.close()
            raise StepFailed("data-tls", f"TLS handshake on the data connection: {_describe(e)}", _kind(e)) from e
        rec.update(
            tls="ok", tls_version=tls.version(), session_reused=tls.session_reused, cipher=(tls.cipher() or (None,))[0]
        )
        return tls


def _finish(sess: Session, conn: socket.socket, rec: dict[str, Any]) -> None:
    """Close the data connection the way ftplib does (TLS close_notify first, unless this
    client is told to skip it) and read the final reply."""
    try:
        if isinstance(conn, ssl.SSLSocket):
            if not sess.req.close_notify or rec.get("close_notify_received") is False:
                rec["close_notify_sent"] = False
            else:
                try:
                    conn.unwrap()  # sends close_notify, then waits for the peer's
                    rec.update(close_notify_sent=True, close_notify_received=True)
                except (OSError, ssl.SSLError):
                    rec.update(close_notify_sent=True, close_notify_received=False)
    finally:
        conn.close()
    resp = sess.reply("final-reply")
    rec["final"] = resp
    if resp[:1] != "2":
        raise StepFailed("final-reply", f"server replied {resp!r} after the transfer", "reply", resp)


def _transfer_failed(sess: Session, rec: dict[str, Any], e: BaseException) -> StepFailed:
    kind = e.kind if isinstance(e, Hostile) else _kind(e)
    rec["transfer"] = kind
    rec["late_reply"] = sess.drain(0.25)
    return StepFailed("data-transfer", f"{rec['cmd']} data transfer: {_describe(e)}", kind)


def stor(sess: Session, name: str, payload: bytes) -> None:
    st: dict[str, Any] = {}
    conn = sess.secure_data(sess.open_data(f"STOR {name}", st), st["rec"])
    st["rec"].update(sent_bytes=len(payload), sha256=hashlib.sha256(payload).hexdigest())
    try:
        conn.sendall(payload)
    except OSError as e:
        conn.close()
        raise _transfer_failed(sess, st["rec"], e) from e
    st["rec"]["done"] = True
    try:
        _finish(sess, conn, st["rec"])
    finally:  # a control connection that gave no final reply is not asked again
        st["rec"]["arrived_bytes"] = _size(sess, name) if "final" in st["rec"] else None


def _size(sess: Session, name: str) -> int | None:
    """What the server holds of `name` (SIZE), when it answers."""
    try:
        resp = sess.command("final-reply", f"SIZE {name}", ok="2")
        return int(resp[4:].strip())
    except (StepFailed, ValueError):
        return None


def retr(sess: Session, cmd: str) -> bytes:
    st: dict[str, Any] = {}
    conn = sess.secure_data(sess.open_data(cmd, st), st["rec"])
    try:
        got = read_data(conn, sess.bounds)
        if isinstance(conn, ssl.SSLSocket):
            st["rec"]["close_notify_received"] = True
    except RaggedEOF as e:  # TCP FIN without close_notify: what ftplib's default quietly accepts
        st["rec"]["close_notify_received"] = False
        got = e.data
    except (OSError, Hostile) as e:
        conn.close()
        raise _transfer_failed(sess, st["rec"], e) from e
    st["rec"].update(bytes=len(got), arrived_bytes=len(got), done=True, sha256=hashlib.sha256(got).hexdigest())
    _finish(sess, conn, st["rec"])
    return got


def open_control(sess: Session, req: Request, done: Done) -> None:
    """Connect, secure (explicit or implicit TLS), log in and protect the data channel."""
    greet(sess, req, done)
    secure(sess, req, done)
    sess.step = "login"
    resp = sess.command("login", f"USER {req.user}", ok="23")
    if resp[:1] == "3":
        sess.command("login", f"PASS {req.password}", ok="2")
    done("login")
    mode = tls_mode(req.tls)
    if mode.data_protected:
        sess.command("protect", "PBSZ 0", ok="2")
        sess.command("protect", "PROT P", ok="2")
        sess._prot_p = True
        done("protect")
    if mode.clears_control:
        clear_control(sess)
        done("ccc")


def clear_control(sess: Session) -> None:
    """CCC (RFC 4217): both ends close TLS on the control connection, which stays open in
    clear. The data connections stay PROT P."""
    sess.step = "ccc"
    assert sess.control is not None, "greet() comes first"
    try:
        sess.command("ccc", "CCC", ok="2")
    except StepFailed as sf:
        sess.control["ccc"] = sf.reply or sf.kind
        raise
    assert isinstance(sess.sock, ssl.SSLSocket), "CCC clears a TLS control connection"
    sess.tls_session = sess.sock.session
    try:
        plain = sess.sock.unwrap()
    except (OSError, ssl.SSLError) as e:
        sess.control["ccc"] = _kind(e)
        raise StepFailed("ccc", f"clearing the control channel after CCC: {_describe(e)}", _kind(e)) from e
    plain.settimeout(sess.req.timeout)
    sess.attach(plain)
    sess.control["ccc"] = "ok"


def greet(sess: Session, req: Request, done: Done) -> None:
    """Connect (with TLS at once when implicit) and read the greeting."""
    ctx = sess.context
    sess.step = "connect"
    sess.control = {"role": "control", "target": f"{req.host}:{req.port}"}
    try:
        with STOP.wait():
            raw = socket.create_connection((req.host, req.port), timeout=req.connect_timeout)
        raw.settimeout(req.timeout)
        if req.keepalive:  # TCP keepalive: ftplib cannot send NOOP while a transfer runs
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for opt in (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL):
                raw.setsockopt(socket.IPPROTO_TCP, opt, req.keepalive)
    except OSError as e:
        sess.control.update(connect=_kind(e), error=_describe(e))
        raise StepFailed("connect", f"connect to {req.host}:{req.port}: {_describe(e)}", _kind(e)) from e
    sess.control.update(connect="ok", local=family.host_port(*raw.getsockname()[:2]))
    sess.host, sess.port = req.host, req.port
    done("connect", local=family.host_port(*raw.getsockname()[:2]))
    if tls_mode(req.tls).implicit:
        sess.step = "tls-handshake"
        try:
            raw = _handshake(ctx, raw, sess.control, server_hostname=req.host)
        except (OSError, ssl.SSLError) as e:
            raise StepFailed("tls-handshake", _describe(e), _kind(e)) from e
        done("tls-handshake", version=raw.version())
    sess.af = raw.family
    sess.attach(raw)
    sess.step = "greeting"
    sess.welcome = sess.reply("greeting")
    if sess.welcome[:1] != "2":
        raise StepFailed("greeting", f"greeting {sess.welcome!r}", "reply", sess.welcome)
    done("greeting")


def secure(sess: Session, req: Request, done: Done) -> None:
    """AUTH TLS and the handshake, for explicit TLS (and CCC, which starts as explicit)."""
    mode = tls_mode(req.tls)
    if not mode.control_tls or mode.implicit:
        return
    sess.step = "auth-tls"
    sess.command("auth-tls", "AUTH TLS", ok="2")
    sess.step = "tls-handshake"
    assert sess.wire is not None and sess.sock is not None and sess.control is not None, "greet() comes first"
    if sess.wire.buf:  # the handshake must come next; plaintext here is never TLS
        extra = bytes(sess.wire.buf[:80]).decode("utf-8", "replace")
        raise StepFailed(
            "tls-handshake",
            f"the server sent plaintext after its AUTH TLS reply instead of starting TLS: {extra!r}",
            "protocol",
        )
    try:
        tls = _handshake(sess.context, sess.sock, sess.control, server_hostname=req.host)
    except (OSError, ssl.SSLError) as e:
        raise StepFailed("tls-handshake", _describe(e), _kind(e)) from e
    sess.attach(tls)
    done("tls-handshake", version=tls.version())  # sess.sock is now tls
    sess.control.update(tls="ok", tls_version=tls.version(), cipher=(tls.cipher() or (None,))[0])


def hold_passive(req: Request, ctx: ssl.SSLContext | None, n: int) -> tuple[list[Session], list[str]]:
    """Open n other sessions that each ask for a passive port and never connect to it,
    so the server's passive range is (partly) in use while the probe's session runs."""
    holders, replies = [], []
    for i in range(n):
        h = Session(req, ctx)
        try:
            open_control(h, req, lambda *a, **k: None)
            replies.append(h.command("negotiate", "EPSV" if req.mode == "epsv" else "PASV", ok="2"))
            holders.append(h)
        except (StepFailed, OSError, EOFError) as e:
            replies.append(f"busy session {i + 1} could not hold a port: {e}")
            h.close()
    return holders, replies


def client_context(req: Request) -> ssl.SSLContext | None:
    """The TLS context for `req`: verify_cert on (against ca), system (the system CAs only) or
    off (verify False is off too); tls_version the highest version offered, or the only one
    with tls_exact (the outside-in probe); ciphers limits the suites."""
    if not tls_mode(req.tls).control_tls:
        return None
    verify = req.verify_cert if req.verify else "off"
    if verify == "off":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=None if verify == "system" else req.ca)
        ctx.check_hostname = req.check_hostname
    if req.tls_version:
        v = ssl.TLSVersion["TLSv" + {"1.0": "1"}.get(req.tls_version, req.tls_version.replace(".", "_"))]
        ctx.maximum_version = v
        if req.tls_exact or v < ctx.minimum_version:
            ctx.minimum_version = v
    if req.ciphers:
        ctx.set_ciphers(req.ciphers)
    if req.keylog:
        ctx.keylog_filename = req.keylog
    return ctx


def transfers(sess: Session, req: Request, done: Done) -> None:
    """The data steps: by default upload, list, download, compare and delete a random file.
    Without `write` (the outside-in probe), only list (`lists` times) and download `download`
    if named."""
    if not req.write:
        for _ in range(req.lists):
            listing = retr(sess, "LIST")
            done("list", bytes=len(listing))
        if req.download:
            got = retr(sess, f"RETR {req.download}")
            done("retr", bytes=len(got), sha256=hashlib.sha256(got).hexdigest())
        return
    payload = os.urandom(req.size)
    name = f"probe-{os.getpid()}-{time.monotonic_ns()}.bin"
    for i in range(req.transfers):  # rounds in one control session
        one = name if i == 0 else f"{name}.{i + 1}"
        sess.step = "negotiate"
        stor(sess, one, payload)
        done("stor", bytes=len(payload), round=i + 1)
        if i == 0:
            listing = retr(sess, "LIST")
            done("list", bytes=len(listing), seen=name.encode() in listing)
        got = retr(sess, f"RETR {one}")
        done("retr", bytes=len(got), round=i + 1)
        if hashlib.sha256(got).digest() != hashlib.sha256(payload).digest():
            raise StepFailed(
                "compare",
                f"downloaded {len(got)} bytes differ from the {len(payload)} uploaded (SHA-256 mismatch)",
                "mismatch",
            )
        done("integrity", sha256=hashlib.sha256(got).hexdigest(), round=i + 1)
        sess.step = "dele"
        sess.command("dele", f"DELE {one}", ok="2")
    done("dele")


def session(req: Request) -> tuple[ClientReport, Session]:
    """Run one session; the report, and the session for what the report does not carry."""
    ctx = client_context(req)
    sess = Session(req, ctx)
    steps: list[Step] = []
    sess.step = "connect"
    holders: list[Session] = []
    busy: list[str] = []
    if req.busy:
        holders, busy = hold_passive(req, ctx, req.busy)

    def done(s: str, **info: Any) -> None:
        steps.append(Step(s, t=sess._t(), detail=info))

    failure = None
    STOP.fired = False
    try:
        open_control(sess, req, done)
        sess.step = "pwd"
        sess.command("pwd", "PWD", ok="2")
        if req.cwd:
            sess.command("pwd", f"CWD {req.cwd}", ok="2")
        done("pwd")
        sess.step = "type"
        sess.command("type", "TYPE I", ok="2")
        transfers(sess, req, done)
        sess.step = "quit"
        sess.command("quit", "QUIT", ok="2")
        done("quit")
    except StepFailed as f:
        failure = Failure(f.kind, f.error, f.reply, step=f.step, interrupted=STOP.fired)
    except (OSError, EOFError, ftplib.Error) as e:  # anything the steps above did not expect
        failure = Failure(_kind(e), _describe(e), None, step=sess.step, interrupted=STOP.fired)
    finally:
        for s in [sess, *holders]:
            try:
                s.close()
            except OSError:
                pass
    conns = ([sess.control] if sess.control else []) + [{"role": "data", **d} for d in sess.data]
    report = ClientReport(
        ok=failure is None,
        steps=tuple(steps),
        failure=failure,
        transcript=tuple(ControlLine(t["dir"], t["line"], t["t"]) for t in sess.transcript),
        connections=tuple(connection(c) for c in conns),
        busy_replies=tuple(busy),
        duration_s=sess._t(),
    )
    return report, sess


def run(req: Request) -> ClientReport:
    """Run one session."""
    return session(req)[0]


def agent() -> int:
    signal.signal(signal.SIGUSR1, STOP.handler)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = codec.encode(run(codec.decode(json.loads(line), Request)), ClientReport)
        except Exception as e:
            out = {"agent_error": _describe(e)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--agent"]:
        sys.exit(agent())
    if len(sys.argv) == 3 and sys.argv[1] == "--request":
        print(json.dumps(codec.encode(run(codec.decode(json.loads(sys.argv[2]), Request)), ClientReport), indent=2))
        sys.exit(0)
    print("usage: python -m clients.python_ftplib.agent --agent | --request JSON", file=sys.stderr)
    sys.exit(2)
