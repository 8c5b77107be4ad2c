"""The embedded pyftpdlib server, started inside the server host.

Harness side: `PyftpdlibServer` renders the command line from the case's ServerSpec.
Host side: `python -m servers.pyftpdlib_embedded CONFIG.json` runs the server, logs every
control line it sent and received (JSON lines) and prints READY once it listens. The harness
starts it through a fork server per lab host (`--fork-server`, servers/_forkserver.py), so
only the first start in a lab pays for the interpreter and imports.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.core import family
from harness.core.tls import mode as tls_mode
from servers import RunningServer, ServerAdapter, ServerContext, register
from servers._forkserver import ForkServers, serve

if TYPE_CHECKING:  # the host side runs without the harness's model
    from OpenSSL import SSL

    from harness.build.backends.base import Lab
    from harness.core.case import ServerSpec

_MODULE = "servers.pyftpdlib_embedded"


class PyftpdlibServer(ServerAdapter):
    """Harness side: how to configure and start the server for a ServerSpec."""

    name = "pyftpdlib"
    label = "pyftpdlib"
    settings = {
        "permit-foreign": "permit_foreign_addresses",
        "masquerade": "masquerade_address",
        "no-foreign": "permit_foreign_addresses=False",
        "tls-login-required": "tls_control_required=True",
        "tls-data-required": "tls_data_required=True",
        "hide-version": "banner=...",
    }
    banner = re.compile(r"^220 .*\bpyftpdlib\b", re.M)
    order = 0
    summary = "pyftpdlib 2.x, embedded; explicit and implicit TLS, masquerade_address"

    def version(self) -> str:
        from importlib.metadata import version

        return f"pyftpdlib {version('pyftpdlib')}"

    def config(self, spec: ServerSpec, ctx: ServerContext) -> dict[str, Any]:
        return {
            "port": spec.control_port,
            "tls": spec.tls,
            "bind": family.of(ctx.public_ip).any_address,
            "passive": [spec.passive.first, spec.passive.last],
            "masquerade": ctx.public_ip if spec.masquerade else None,
            "masquerade_map": dict(ctx.masquerade_map) if spec.masquerade else {},
            "permit_foreign": spec.permit_foreign,
            "cert": str(ctx.certs.cert),
            "key": str(ctx.certs.key),
            "home": str(ctx.home),
            "user": ctx.user,
            "password": ctx.password,
            "log": str(ctx.log),
            "keylog": str(ctx.keylog) if ctx.keylog else None,
        }

    def argv(self, spec: ServerSpec, ctx: ServerContext) -> list[str]:
        return [ctx.python, "-m", _MODULE, json.dumps(self.config(spec, ctx))]

    def __init__(self) -> None:
        self.forks = ForkServers(lambda ctx: [ctx.python, "-m", _MODULE, "--fork-server"])

    def launch(self, lab: Lab, host: str, spec: ServerSpec, ctx: ServerContext) -> RunningServer:
        running = self.forks.get(lab, host, ctx).start(self, ctx, self.config(spec, ctx), self.ready_timeout)
        if running is None:
            raise self.start_failed(host, ctx)
        return running


register(PyftpdlibServer())


# --- host side: the server itself ---------------------------------------------


class _Log:
    """Append-only JSON-lines log; flushed per line so the harness reads it at once."""

    def __init__(self, path: str) -> None:
        self.f = open(path, "a", buffering=1, encoding="utf-8")

    def write(self, kind: str, peer: str, line: str) -> None:
        self.f.write(json.dumps({"t": time.time(), "kind": kind, "peer": peer, "line": line}) + "\n")


def _handler_class(cfg: dict[str, Any], log: _Log) -> type[Any]:
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler

    mode = tls_mode(cfg["tls"])
    base: Any = FTPHandler
    if mode.control_tls:
        from pyftpdlib.handlers import TLS_FTPHandler

        base = TLS_FTPHandler

    # Subclassing Any is an error only under strict (disallow_subclassing_any); mypy applies the
    # `strict = true` of pyproject's override to every module (python/mypy#16387), a per-module
    # strict would not: `unused-ignore` keeps these three ignores right either way.
    class Logged(base):  # type: ignore[misc, unused-ignore]  # pyftpdlib has no type hints: its classes are Any
        def _peer(self) -> str:
            return family.host_port(self.remote_ip, self.remote_port)

        def push(self, data: str) -> None:
            for line in data.rstrip("\r\n").split("\r\n"):
                log.write("sent", self._peer(), line)
            super().push(data)

        def pre_process_command(self, line: str, cmd: str, arg: str) -> None:
            shown = "PASS ******" if cmd == "PASS" else line
            log.write("recv", self._peer(), shown)
            super().pre_process_command(line, cmd, arg)

        def log(self, msg: str, logfun: Any = None) -> None:  # pyftpdlib's own session log
            log.write("log", self._peer(), msg)

        def logerror(self, msg: str) -> None:
            log.write("error", self._peer(), msg)

    handler = Logged
    if mode.control_tls:
        handler = _with_ccc(Logged, log)
    if mode.implicit:

        class Implicit(Logged):
            def handle(self) -> None:
                self.secure_connection(self.ssl_context)  # TLS before the greeting
                super().handle()

        handler = Implicit

    auth = DummyAuthorizer()
    auth.add_user(cfg["user"], cfg["password"], cfg["home"], perm="elradfmwMT")
    if cfg.get("anonymous"):  # misconfigurations the probe's tests set on purpose
        auth.add_anonymous(cfg["home"])
    handler.authorizer = auth
    handler.banner = "ftps-harness pyftpdlib ready"
    handler.passive_ports = range(cfg["passive"][0], cfg["passive"][1] + 1)
    handler.permit_foreign_addresses = bool(cfg.get("permit_foreign"))
    handler.timeout = 60
    if cfg.get("masquerade_map"):
        handler.masquerade_address_map = cfg["masquerade_map"]  # per local (control) address
    elif cfg["masquerade"]:
        handler.masquerade_address = cfg["masquerade"]
    if mode.control_tls:
        handler.certfile = cfg["cert"]
        handler.keyfile = cfg["key"]
        handler.tls_control_required = cfg.get("tls_control_required", True)
        handler.tls_data_required = cfg.get("tls_data_required", True)
        handler.ssl_context = _ssl_context(cfg)
    return handler


def _with_ccc(base: Any, log: _Log) -> type[Any]:
    """CCC (RFC 4217), which pyftpdlib lacks: reply 200 under TLS, exchange close_notify,
    then read and write the same TCP connection in clear. Data connections stay PROT P.
    Also logs each data connection's TLS version and cipher."""
    from OpenSSL import SSL
    from pyftpdlib.handlers import TLS_DTPHandler

    class LoggedDTP(TLS_DTPHandler):  # type: ignore[misc, unused-ignore]  # pyftpdlib has no type hints: its classes are Any
        def handle_ssl_established(self) -> None:
            c = self.socket
            log.write(
                "log",
                self.cmd_channel._peer(),
                f"data TLS {c.get_protocol_version_name()} "
                f"{c.get_cipher_name()} session_reused={bool(c.session_reused())}"
                if hasattr(c, "session_reused")
                else f"data TLS {c.get_protocol_version_name()} {c.get_cipher_name()}",
            )
            super().handle_ssl_established()

    class WithCCC(base):  # type: ignore[misc, unused-ignore]  # pyftpdlib has no type hints: its classes are Any
        # pyftpdlib's attributes, set by its handlers; the socket is an SSL.Connection under TLS
        socket: Any
        _ssl_established: bool
        _plain: Any
        dtp_handler = LoggedDTP
        proto_cmds = {
            **base.proto_cmds,
            "CCC": dict(perm=None, auth=True, arg=False, help="Syntax: CCC (clear the control channel)."),
        }
        _clearing = False

        def secure_connection(self, ssl_context: SSL.Context) -> None:
            self._plain = self.socket
            super().secure_connection(ssl_context)

        def ftp_CCC(self, line: str) -> None:
            if not self._ssl_established:
                self.respond("533 The control channel is not protected.")
                return
            self.respond("200 Clearing the control channel.")
            self.initiate_send()
            self._clearing = True
            try:
                self.socket.shutdown()  # our close_notify; the client's arrives next
            except (SSL.WantReadError, SSL.WantWriteError):
                pass

        def handle_read_event(self) -> None:
            if not self._clearing:
                super().handle_read_event()
                return
            try:
                self.socket.recv(4096)  # nothing but the client's close_notify is expected
            except SSL.ZeroReturnError:
                self.socket, self._ssl_established, self._clearing = self._plain, False, False
                log.write("log", self._peer(), "CCC: control channel in clear")
            except SSL.WantReadError:
                pass
            except (SSL.Error, OSError) as e:
                log.write("error", self._peer(), f"CCC: {e!r}")
                self._clearing = False
                self.close()

    return WithCCC


def _ssl_context(cfg: dict[str, Any]) -> SSL.Context:
    """pyOpenSSL context like pyftpdlib's own, plus an SSLKEYLOGFILE-format key log."""
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_SERVER_METHOD)
    if cfg.get("min_tls") == "1.0":  # a misconfiguration the probe's tests set on purpose
        ctx.set_min_proto_version(SSL.TLS1_VERSION)
        ctx.set_cipher_list(b"DEFAULT:@SECLEVEL=0")
    else:
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    if cfg.get("ciphers"):  # e.g. NULL suites, a misconfiguration the probe's tests set
        ctx.set_cipher_list(cfg["ciphers"].encode())
    ctx.use_certificate_chain_file(cfg["cert"])
    ctx.use_privatekey_file(cfg["key"])
    if cfg.get("keylog"):
        out = open(cfg["keylog"], "ab", buffering=0)

        def keylog(conn: SSL.Connection, line: bytes) -> None:
            out.write(line + b"\n")

        ctx.set_keylog_callback(keylog)
    return ctx


def main(cfg: dict[str, Any]) -> int:
    from pyftpdlib.servers import FTPServer

    log = _Log(cfg["log"])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("pyftpdlib").handlers[:] = []
    Path(cfg["home"]).mkdir(parents=True, exist_ok=True)
    server = FTPServer((cfg.get("bind", "0.0.0.0"), cfg["port"]), _handler_class(cfg, log))
    server.max_cons = 64

    def stop(*_: object) -> None:
        server.close_all()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = server.socket.getsockname()[1]
    log.write(
        "log",
        "-",
        f"listening on {cfg.get('bind', '0.0.0.0')}:{port} tls={cfg['tls']} "
        f"passive={cfg['passive'][0]}-{cfg['passive'][1]} masquerade={cfg['masquerade']} "
        f"map={cfg.get('masquerade_map') or '-'} permit_foreign={cfg.get('permit_foreign')}",
    )
    print(f"READY {port} {os.getpid()}", flush=True)  # the pid: a fork server's child
    server.serve_forever(timeout=0.5, blocking=True, handle_exit=False)
    return 0


def _warm() -> None:
    """What every start imports, loaded once in the fork server."""
    import pyftpdlib.authorizers
    import pyftpdlib.handlers
    import pyftpdlib.servers  # noqa: F401
    from OpenSSL import SSL  # noqa: F401


if __name__ == "__main__":
    if sys.argv[1] == "--fork-server":
        _warm()
        sys.exit(serve(main))
    sys.exit(main(json.loads(sys.argv[1])))
