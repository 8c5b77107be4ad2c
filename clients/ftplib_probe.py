"""The ftplib probe: a real FTP/FTPS session with Python's ftplib, run inside the client host.

It records facts only: each step's result, every control line sent and received, and each
data connection (what was advertised, where it connected, what happened). Judgement is the
harness's job: harness/stages.py places a failure, harness/checks/ judges.

Run as `python -m clients.ftplib_probe --agent`: it reads one JSON request per stdin line
and answers with one JSON report per stdout line, so one interpreter serves many cases.
"""
from __future__ import annotations

import dataclasses
import errno
import ftplib
import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import ssl
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

from harness.core import codec, family
from harness.core.family import classify
from harness.observe.observation import ClientReport, ControlLine, Failure, Step
from harness.core.tls import mode as tls_mode

from clients import ClientAdapter, ClientContext, register
from clients._cli import connection
from clients._wire import Bounds, BoundedReader, Hostile, RaggedEOF, read_data



class StepFailed(Exception):
    def __init__(self, step: str, error: str, kind: str = "error", reply: str | None = None):
        super().__init__(error)
        self.step, self.error, self.kind, self.reply = step, error, kind, reply


class Stopped(TimeoutError):
    """A wait the harness stopped: a middlebox dropped what it waits for (harness/early_stop.py)."""


class _Stop:
    """SIGUSR1 from the harness (harness/early_stop.py) ends the current wait (a connect, an
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


class Session(ftplib.FTP_TLS):
    """FTP_TLS that records its transcript and opens data connections step by step."""

    def __init__(self, req: dict[str, Any], context: ssl.SSLContext | None):
        super().__init__(context=context, timeout=req["timeout"])
        self.req = req
        self.t0 = time.monotonic()
        self.transcript: list[dict[str, Any]] = []
        self.data: list[dict[str, Any]] = []
        self.control: dict[str, Any] | None = None
        self.tls_session: ssl.SSLSession | None = None  # the control connection's, kept across CCC
        self.step = "connect"
        self.bounds = Bounds.of(req)
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
        line = self.wire.line()
        self.transcript.append({"t": self._t(), "dir": "recv", "line": line})
        return line

    def getmultiline(self) -> str:
        self.wire.start_reply()
        return super().getmultiline()

    def reply(self, step: str) -> str:
        """Read one reply; socket trouble becomes a StepFailed at `step`."""
        try:
            with STOP.wait():  # a reply the conntrack helper dropped never comes
                return self.getmultiline()
        except Hostile as e:
            raise StepFailed(step, str(e), e.kind) from e
        except (OSError, EOFError) as e:
            raise StepFailed(step, _describe(e), _kind(e)) from e

    def command(self, step: str, cmd: str, ok: str = "23") -> str:
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
        try:
            self.sock.settimeout(wait)
            return self.getmultiline()
        except (OSError, EOFError, Hostile):
            return None
        finally:
            try:
                self.sock.settimeout(self.req["timeout"])
            except OSError:
                pass

    # -- data connections ----------------------------------------------------
    def open_data(self, cmd: str, rest: dict[str, Any]) -> socket.socket:
        """Negotiate a data connection for `cmd` and return the connected socket."""
        mode = self.req["mode"]
        rec: dict[str, Any] = {"cmd": cmd.split()[0], "mode": mode}
        self.data.append(rec)
        rest["rec"] = rec
        if mode in ("pasv", "epsv"):
            return self._passive(cmd, mode, rec)
        return self._active(cmd, mode, rec)

    def _passive(self, cmd: str, mode: str, rec: dict[str, Any]) -> socket.socket:
        peer = self.sock.getpeername()[0]
        cmd_word, parse = ("PASV", family.parse_227) if mode == "pasv" else ("EPSV", family.parse_229)
        resp = self.command("data-setup", cmd_word, ok="2")
        try:
            ep = parse(resp)
        except ValueError as e:
            raise StepFailed("data-setup", str(e), "parse", resp) from e
        adv_ip, adv_port = ep.ip, ep.port
        host = adv_ip if mode == "pasv" and self.req["pasv_address"] == "trust" else peer
        if (mode == "pasv" and host == adv_ip and classify(adv_ip, peer) == "third-party"
                and not self.req.get("follow_foreign_pasv", False)):
            rec.update(reply=resp, advertised_ip=adv_ip, advertised_port=adv_port, control_peer=peer,
                       note="third-party address: not followed")
            raise StepFailed("data-setup", f"the 227 reply points to {adv_ip}, a third party "
                             f"(neither the control peer {peer} nor its network); not "
                             "connecting there (--follow-foreign-pasv to allow)", "foreign-pasv", resp)
        rec.update(reply=resp, advertised_ip=adv_ip, advertised_port=adv_port,
                   target=f"{host}:{adv_port}", control_peer=peer)
        try:
            with STOP.wait():
                conn = socket.create_connection((host, adv_port), timeout=self.req.get("connect_timeout", 2.0))
            conn.settimeout(self.req["timeout"])
        except OSError as e:
            rec["connect"] = _kind(e)
            rec["late_reply"] = self.drain(0.15)
            raise StepFailed("data-connect", f"connect to {host}:{adv_port}: {_describe(e)}",
                             _kind(e)) from e
        rec["connect"] = "ok"
        rec["local"] = "%s:%d" % conn.getsockname()[:2]
        self._start_transfer(cmd, rec, conn)
        return conn

    def _active(self, cmd: str, mode: str, rec: dict[str, Any]) -> socket.socket:
        local_ip = self.sock.getsockname()[0]
        lsock = socket.create_server((local_ip, 0), family=self.sock.family)
        lsock.settimeout(self.req["timeout"])
        port = lsock.getsockname()[1]
        arg = (family.encode_port if mode == "port" else family.encode_eprt)(local_ip, port)
        rec.update(sent=arg, listen=f"{local_ip}:{port}")
        try:
            resp = self.command("data-setup", arg, ok="2")
            rec["reply"] = resp
            self._start_transfer(cmd, rec, None)
            try:
                with STOP.wait():
                    conn, addr = lsock.accept()
            except OSError as e:
                rec["connect"] = _kind(e)
                rec["late_reply"] = self.drain(0.15)
                raise StepFailed("data-connect", f"no data connection arrived on "
                                 f"{local_ip}:{port}: {_describe(e)}", _kind(e)) from e
            rec.update(connect="ok", peer="%s:%d" % addr[:2])
            conn.settimeout(self.req["timeout"])
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
            raise StepFailed("transfer", _describe(e), _kind(e)) from e
        resp = self.reply("data-connect")
        rec["preliminary"] = resp
        if resp[:1] != "1":
            if conn is not None:
                conn.close()
            raise StepFailed("transfer-start", f"server replied {resp!r} to {cmd.split()[0]}", "reply", resp)

    def secure_data(self, conn: socket.socket, rec: dict[str, Any]) -> socket.socket:
        if not self._prot_p:
            return conn
        try:
            # after CCC the control socket is plain: reuse the session it had under TLS
            session = (getattr(self.sock, "session", None) or self.tls_session) if self.req.get("reuse") else None
            tls = self.context.wrap_socket(conn, server_hostname=self.host, session=session,
                                           suppress_ragged_eofs=False)
        except (OSError, ssl.SSLError) as e:
            rec["tls"] = _kind(e)
            rec["late_reply"] = self.drain(0.25)
            conn.close()
            raise StepFailed("data-tls", f"TLS handshake on the data connection: {_describe(e)}",
                             _kind(e)) from e
        rec.update(tls="ok", tls_version=tls.version(), session_reused=tls.session_reused,
                   cipher=(tls.cipher() or (None,))[0])
        return tls


def _finish(sess: Session, conn: socket.socket, rec: dict[str, Any]) -> None:
    """Close the data connection the way ftplib does (TLS close_notify first, unless this
    client is told to skip it) and read the final reply."""
    try:
        if isinstance(conn, ssl.SSLSocket):
            if not sess.req.get("close_notify", True) or rec.get("close_notify_received") is False:
                rec["close_notify_sent"] = False
            else:
                try:
                    conn.unwrap()  # sends close_notify, then waits for the peer's
                    rec.update(close_notify_sent=True, close_notify_received=True)
                except (OSError, ssl.SSLError):
                    rec.update(close_notify_sent=True, close_notify_received=False)
    finally:
        conn.close()
    resp = sess.reply("transfer")
    rec["final"] = resp
    if resp[:1] != "2":
        raise StepFailed("transfer", f"server replied {resp!r} after the transfer", "reply", resp)


def _transfer_failed(sess: Session, rec: dict[str, Any], e: BaseException) -> StepFailed:
    kind = e.kind if isinstance(e, Hostile) else _kind(e)
    rec["transfer"] = kind
    rec["late_reply"] = sess.drain(0.25)
    return StepFailed("transfer", f"{rec['cmd']} data transfer: {_describe(e)}", kind)


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
        resp = sess.command("transfer", f"SIZE {name}", ok="2")
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
    st["rec"].update(bytes=len(got), arrived_bytes=len(got), done=True,
                     sha256=hashlib.sha256(got).hexdigest())
    _finish(sess, conn, st["rec"])
    return got


def open_control(sess: Session, req: dict[str, Any], done) -> None:
    """Connect, secure (explicit or implicit TLS), log in and protect the data channel."""
    greet(sess, req, done)
    secure(sess, req, done)
    sess.step = "login"
    resp = sess.command("login", f"USER {req['user']}", ok="23")
    if resp[:1] == "3":
        sess.command("login", f"PASS {req['password']}", ok="2")
    done("login")
    mode = tls_mode(req["tls"])
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
    try:
        sess.command("ccc", "CCC", ok="2")
    except StepFailed as sf:
        sess.control["ccc"] = sf.reply or sf.kind
        raise
    sess.tls_session = sess.sock.session
    try:
        plain = sess.sock.unwrap()
    except (OSError, ssl.SSLError) as e:
        sess.control["ccc"] = _kind(e)
        raise StepFailed("ccc", f"clearing the control channel after CCC: {_describe(e)}",
                         _kind(e)) from e
    plain.settimeout(sess.req["timeout"])
    sess.attach(plain)
    sess.control["ccc"] = "ok"


def greet(sess: Session, req: dict[str, Any], done) -> None:
    """Connect (with TLS at once when implicit) and read the greeting."""
    ctx = sess.context
    sess.step = "connect"
    sess.control = {"role": "control", "target": f"{req['host']}:{req['port']}"}
    try:
        with STOP.wait():
            raw = socket.create_connection((req["host"], req["port"]), timeout=req.get("connect_timeout", 2.0))
        raw.settimeout(req["timeout"])
        if req.get("keepalive"):  # TCP keepalive: ftplib cannot send NOOP while a transfer runs
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for opt in (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL):
                raw.setsockopt(socket.IPPROTO_TCP, opt, req["keepalive"])
    except OSError as e:
        sess.control.update(connect=_kind(e), error=_describe(e))
        raise StepFailed("connect", f"connect to {req['host']}:{req['port']}: {_describe(e)}",
                         _kind(e)) from e
    sess.control.update(connect="ok", local="%s:%d" % raw.getsockname()[:2])
    sess.host, sess.port = req["host"], req["port"]
    done("connect", local="%s:%d" % raw.getsockname()[:2])
    if tls_mode(req["tls"]).implicit:
        sess.step = "tls-handshake"
        try:
            raw = ctx.wrap_socket(raw, server_hostname=req["host"])
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


def secure(sess: Session, req: dict[str, Any], done) -> None:
    """AUTH TLS and the handshake, for explicit TLS (and CCC, which starts as explicit)."""
    mode = tls_mode(req["tls"])
    if not mode.control_tls or mode.implicit:
        return
    sess.step = "tls-handshake"
    sess.command("tls-handshake", "AUTH TLS", ok="2")
    if sess.wire.buf:  # the handshake must come next; plaintext here is never TLS
        extra = bytes(sess.wire.buf[:80]).decode("utf-8", "replace")
        raise StepFailed("tls-handshake", f"the server sent plaintext after its AUTH TLS reply "
                         f"instead of starting TLS: {extra!r}", "protocol")
    try:
        tls = sess.context.wrap_socket(sess.sock, server_hostname=req["host"])
    except (OSError, ssl.SSLError) as e:
        raise StepFailed("tls-handshake", _describe(e), _kind(e)) from e
    sess.attach(tls)
    done("tls-handshake", version=sess.sock.version())
    sess.control.update(tls="ok", tls_version=tls.version(), cipher=(tls.cipher() or (None,))[0])


def hold_passive(req: dict[str, Any], ctx: ssl.SSLContext | None, n: int) -> tuple[list[Session], list[str]]:
    """Open n other sessions that each ask for a passive port and never connect to it,
    so the server's passive range is (partly) in use while the probe's session runs."""
    holders, replies = [], []
    for i in range(n):
        h = Session(req, ctx)
        try:
            open_control(h, req, lambda *a, **k: None)
            replies.append(h.command("data-setup", "EPSV" if req["mode"] == "epsv" else "PASV", ok="2"))
            holders.append(h)
        except (StepFailed, OSError, EOFError) as e:
            replies.append(f"busy session {i + 1} could not hold a port: {e}")
            h.close()
    return holders, replies


def client_context(req: dict[str, Any]) -> ssl.SSLContext | None:
    """The TLS context for `req`. "verify_cert": on (against "ca"), system (the system CAs
    only) or off; "verify": False is off too. "tls_version" is the highest version offered,
    or the only one with "tls_exact" (the outside-in probe); "ciphers" limits the suites."""
    if not tls_mode(req["tls"]).control_tls:
        return None
    verify = req.get("verify_cert", "on") if req.get("verify", True) else "off"
    if verify == "off":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=None if verify == "system" else req.get("ca"))
        ctx.check_hostname = req.get("check_hostname", True)
    if req.get("tls_version"):
        v = ssl.TLSVersion["TLSv" + {"1.0": "1"}.get(req["tls_version"], req["tls_version"].replace(".", "_"))]
        ctx.maximum_version = v
        if req.get("tls_exact") or v < ctx.minimum_version:
            ctx.minimum_version = v
    if req.get("ciphers"):
        ctx.set_ciphers(req["ciphers"])
    if req.get("keylog"):
        ctx.keylog_filename = req["keylog"]
    return ctx


def transfers(sess: Session, req: dict[str, Any], done) -> None:
    """The data steps: by default upload, list, download, compare and delete a random file.
    With "write": False (the outside-in probe), only list ("lists" times) and download
    "download" if named."""
    if not req.get("write", True):
        for _ in range(req.get("lists", 1)):
            listing = retr(sess, "LIST")
            done("list", bytes=len(listing))
        if req.get("download"):
            got = retr(sess, f"RETR {req['download']}")
            done("retr", bytes=len(got), sha256=hashlib.sha256(got).hexdigest())
        return
    payload = os.urandom(req["size"])
    name = f"probe-{os.getpid()}-{time.monotonic_ns()}.bin"
    for i in range(req.get("transfers", 1)):  # "transfers" rounds in one control session
        one = name if i == 0 else f"{name}.{i + 1}"
        sess.step = "data-setup"
        stor(sess, one, payload)
        done("stor", bytes=len(payload), round=i + 1)
        if i == 0:
            listing = retr(sess, "LIST")
            done("list", bytes=len(listing), seen=name.encode() in listing)
        got = retr(sess, f"RETR {one}")
        done("retr", bytes=len(got), round=i + 1)
        if hashlib.sha256(got).digest() != hashlib.sha256(payload).digest():
            raise StepFailed("integrity", f"downloaded {len(got)} bytes differ from the "
                             f"{len(payload)} uploaded (SHA-256 mismatch)", "mismatch")
        done("integrity", sha256=hashlib.sha256(got).hexdigest(), round=i + 1)
        sess.step = "dele"
        sess.command("dele", f"DELE {one}", ok="2")
    done("dele")


def session(req: dict[str, Any]) -> tuple[ClientReport, Session]:
    """Run one session; the report, and the session for what the report does not carry."""
    ctx = client_context(req)
    sess = Session(req, ctx)
    steps: list[Step] = []
    sess.step = "connect"
    holders: list[Session] = []
    busy: list[str] = []
    if req.get("busy"):
        holders, busy = hold_passive(req, ctx, req["busy"])

    def done(s: str, **info: Any) -> None:
        steps.append(Step(s, t=sess._t(), detail=info))

    failure = None
    STOP.fired = False
    try:
        open_control(sess, req, done)
        sess.step = "pwd"
        sess.command("pwd", "PWD", ok="2")
        if req.get("cwd"):
            sess.command("pwd", f"CWD {req['cwd']}", ok="2")
        done("pwd")
        sess.step = "data-setup"
        sess.command("data-setup", "TYPE I", ok="2")
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
    report = ClientReport(ok=failure is None, steps=tuple(steps), failure=failure,
                          transcript=tuple(ControlLine(t["dir"], t["line"], t["t"]) for t in sess.transcript),
                          connections=tuple(connection(c) for c in conns), busy_replies=tuple(busy),
                          duration_s=sess._t())
    return report, sess


def run(req: dict[str, Any]) -> ClientReport:
    """Run one session. `req`: host, port, tls, mode, pasv_address, ca, user, password,
    timeout, size, busy; optional: write, lists, download, verify, tls_version, ciphers,
    follow_foreign_pasv, bounds (see clients/_wire.py)."""
    return session(req)[0]


# --- harness side -------------------------------------------------------------

class ProbeDied(Exception):
    pass


class FtplibProbe(ClientAdapter):
    """Stock ftplib behaviour: no TLS session reuse on data connections."""
    name = "ftplib"
    order = 0
    summary = "Python ftplib (stock: no TLS session reuse); PASV/EPSV/PORT/EPRT"
    keepalive = ("TCP keepalive set on the control socket by the probe (SO_KEEPALIVE, TCP_KEEPIDLE); "
                 "ftplib itself cannot send NOOP while a transfer runs")
    deadline = 40.0  # a whole session, beyond every per-step timeout
    reuse = False  # pass the control connection's TLS session to data connections
    close_notify = True  # send a TLS close_notify before closing a data connection
    reusing_variant = "ftplib-reuse"

    def __init__(self) -> None:
        self._agents: dict[int, subprocess.Popen] = {}

    def version(self) -> str:
        return f"Python {sys.version.split()[0]} ftplib"

    def supports(self, case) -> str | None:
        if case.client.mode == "port" and case.net.family == "ipv6":
            return "ftplib cannot send PORT on an IPv6 connection: " + family.cannot_carry(
                "PORT", "the client's control connection uses")
        return None

    def prepare(self, lab, host: str, python: str) -> None:
        self._agent(lab, host, python)

    def _agent(self, lab, host: str, python: str) -> subprocess.Popen:
        p = self._agents.get(id(lab))
        if p is None or p.poll() is not None:
            p = lab.spawn(host, [python, "-m", "clients.ftplib_probe", "--agent"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            self._agents[id(lab)] = p
        return p

    def session(self, lab, host: str, case, ctx: ClientContext) -> ClientReport:
        req = {"host": ctx.host, "port": case.server.control_port, "tls": case.server.tls,
               "mode": case.client.mode, "pasv_address": case.client.pasv_address or "control",
               "ca": str(ctx.ca), "user": ctx.user, "password": ctx.password,
               "timeout": ctx.timeout, "connect_timeout": min(ctx.connect_timeout, ctx.timeout),
               "size": ctx.size, "busy": case.client.busy, "cwd": ctx.cwd, "reuse": self.reuse,
               "keylog": str(ctx.keylog) if ctx.keylog else None,
               "close_notify": self.close_notify, "tls_version": case.client.tls_version,
               "transfers": case.client.transfers, "verify_cert": case.client.verify_cert,
               "keepalive": case.client.keepalive,
               **({"bounds": dataclasses.asdict(ctx.bounds)} if ctx.bounds else {})}
        deadline = self.deadline + (3 * ctx.bounds.step_s if ctx.bounds else 0)  # three data steps
        p = self._agent(lab, host, ctx.python)
        try:
            p.stdin.write(json.dumps(req) + "\n")
            p.stdin.flush()
            ready, _, _ = select.select([p.stdout], [], [], deadline)
            line = p.stdout.readline() if ready else ""
        except OSError as e:
            line, ready = "", [e]
        if not line:
            self.close(lab)
            why = "did not answer" if not ready else "exited"
            raise ProbeDied(f"the ftplib probe {why} within {deadline:.0f}s")
        out = json.loads(line)
        if "probe_error" in out:
            raise ProbeDied(f"the ftplib probe crashed: {out['probe_error']}")
        return codec.decode(out, ClientReport)

    def interrupt(self, lab) -> bool:
        p = self._agents.get(id(lab))
        return p is not None and lab.signal(p, signal.SIGUSR1)

    def close(self, lab) -> None:
        p = self._agents.pop(id(lab), None)
        if p is not None:
            lab.stop(p, grace=1.0)


register(FtplibProbe())


def agent() -> int:
    signal.signal(signal.SIGUSR1, STOP.handler)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            out = codec.encode(run(json.loads(line)), ClientReport)
        except Exception as e:  # noqa: BLE001 - reported as a harness error, never a hang
            out = {"probe_error": _describe(e)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--agent"]:
        sys.exit(agent())
    if len(sys.argv) == 3 and sys.argv[1] == "--request":
        print(json.dumps(codec.encode(run(json.loads(sys.argv[2])), ClientReport), indent=2))
        sys.exit(0)
    print("usage: python -m clients.ftplib_probe --agent | --request JSON", file=sys.stderr)
    sys.exit(2)
