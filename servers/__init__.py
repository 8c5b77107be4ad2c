"""Server registry. One module per server implementation registers a ServerAdapter.

An adapter only says how to start its server for a ServerSpec and how to read its log;
starting, readiness and stopping are common (ServerAdapter.start).
"""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.build.follow import read_lines
from harness.core.login import TEST_LOGIN
from harness.core.registry import Registry

if TYPE_CHECKING:  # the host side (a server's own process) imports this package: keep it light
    from harness.build.backends.base import Lab
    from harness.core.case import ServerSpec
    from harness.observe.observation import ControlLine, LogLine

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ServerContext:
    public_ip: str  # what masquerade advertises
    certs: Any  # certs.CertPaths
    home: Path  # the FTP user's home directory
    log: Path  # where the server writes its log
    user: str = TEST_LOGIN[0]
    password: str = TEST_LOGIN[1]
    python: str = sys.executable
    masquerade_map: tuple[tuple[str, str], ...] = ()  # local address -> advertised address
    keylog: Path | None = None  # where the server writes TLS secrets (SSLKEYLOGFILE format)


def crypt_password(password: str) -> str:
    """A SHA-512 crypt(3) hash, the format both ProFTPD's AuthUserFile and Pure-FTPd's PureDB
    accept (and that many real installs carry)."""
    return subprocess.run(
        ["openssl", "passwd", "-6", password], check=True, capture_output=True, text=True
    ).stdout.strip()


class ServerStartFailed(Exception):
    pass


class RunningServer:
    def __init__(
        self, lab: Lab, proc: subprocess.Popen[str] | None, adapter: ServerAdapter, ctx: ServerContext, host: str
    ):
        self.lab, self.proc, self.adapter, self.ctx, self.host = lab, proc, adapter, ctx, host
        self._offset = 0

    def events(self) -> list[ControlLine | LogLine]:
        """What the server logged since the last call: control lines and its own log lines."""
        from harness.observe.observation import ControlLine, LogLine

        evs, self._offset = self.adapter.read_log(self.ctx.log, self._offset)
        return [
            ControlLine(e["kind"], e["line"], e["t"], e["peer"], host=self.host)
            if e["kind"] in ("sent", "recv")
            else LogLine(self.host, e["line"], e["t"])
            for e in evs
        ]

    def alive(self) -> bool:
        assert self.proc is not None, "a server started by spawn() (a ForkedServer has its own)"
        return self.proc.poll() is None

    def keylog_size(self) -> int:
        k = self.ctx.keylog
        return k.stat().st_size if k and k.exists() else 0

    def copy_keylog(self, dest: Path, offset: int) -> bool:
        """Copy the key log lines written since `offset` (one case's sessions) to `dest`."""
        k = self.ctx.keylog
        if not k or not k.exists() or k.stat().st_size <= offset:
            return False
        with open(k, "rb") as f:
            f.seek(offset)
            dest.write_bytes(f.read())
        return True

    def stop(self) -> None:
        assert self.proc is not None, "a server started by spawn() (a ForkedServer has its own)"
        self.lab.stop(self.proc)


class ServerAdapter:
    name = "?"
    label = ""  # how its users write its name ("ProFTPD"); default: name
    summary = ""
    # The server's own setting for each knob, e.g. {"reuse-off": "require_ssl_reuse=NO"}; diagnoses,
    # fixes and security findings quote them. Knobs: masquerade, permit-foreign, no-foreign,
    # reuse-off, ccc, tls-login-required, tls-data-required, tls-1.2-minimum, strong-ciphers,
    # no-anonymous, hide-version.
    settings: dict[str, str] = {}
    # How it words facts in its replies and log; checks read them through these patterns.
    # The defaults are the wording these servers share; an adapter overrides what differs.
    says: dict[str, re.Pattern[str]] = {
        "startup": re.compile(r"listening on"),  # its start-up line, not about any session
        "foreign-address": re.compile(r"foreign address(?: ([\d.]+):(\d+))?"),
        "passive-fallback": re.compile(r"random|free passive port", re.I),
        "reuse-required": re.compile(r"reuse", re.I),  # in a reply
        "reuse-required-log": re.compile(r"(?=.*reuse)(?=.*session)(?!.*client reused)", re.I),
        "session-resumed-log": re.compile(r"client reused TLS session|resumed session", re.I),
        # a TLS connection that ended without close_notify, as the server logs it
        "unclean-tls-end-log": re.compile(r"^(?!.*control connection).*(without SSL shutdown|unexpected eof)", re.I),
        # the last reply of a session process that dies (group "reason"); a server declares its own
    }
    # How its greeting gives it away (the probe and ticket import name the server from it).
    banner: re.Pattern[str] | None = None
    # What it does that clients and tools trip over, by fact: e.g. "feat-omits-auth-tls".
    quirks: dict[str, str] = {}
    order = 50  # position in listings: the embedded one first
    ready_timeout = 10.0
    prints_ready = True  # else: ready once the control port listens
    upload_dir: str | None = None  # where clients must CWD to write, if not the login dir

    def supports(self, spec: ServerSpec) -> str | None:
        """Why this server cannot run `spec` (the case is then a skip), or None."""
        return None

    credentials: tuple[str, str] | None = None  # a login other than the harness's test user

    def version(self) -> str:
        return ""

    def prepare(self, spec: ServerSpec, ctx: ServerContext) -> None:
        """Write config files and directories for `spec` (into ctx.log's folder)."""

    def argv(self, spec: ServerSpec, ctx: ServerContext) -> list[str]:
        raise NotImplementedError

    def read_log(self, path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
        """Default: a JSON-lines log. Returns the new events ({t, kind: sent|recv|log|error,
        peer, line}) and the new offset."""
        lines, offset = read_lines(path, offset)
        return [json.loads(line) for line in lines if line.strip()], offset

    def start(self, lab: Lab, host: str, spec: ServerSpec, ctx: ServerContext) -> RunningServer:
        ctx.home.mkdir(parents=True, exist_ok=True)
        ctx.home.chmod(0o777)  # servers that drop privileges write here as nobody
        self.prepare(spec, ctx)
        return self.launch(lab, host, spec, ctx)

    def launch(self, lab: Lab, host: str, spec: ServerSpec, ctx: ServerContext) -> RunningServer:
        """Start the prepared server as its own process and wait until it is ready."""
        stderr = open(ctx.log.with_suffix(".stderr"), "a")
        proc = lab.spawn(host, self.argv(spec, ctx), stdout=subprocess.PIPE, stderr=stderr)
        stderr.close()
        assert proc.stdout is not None, "spawned with stdout=PIPE"
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if not self.prints_ready:
                r = lab.run(host, ["ss", "-Hltn", f"sport = :{spec.control_port}"], timeout=5)
                if r.stdout.strip():
                    return RunningServer(lab, proc, self, ctx, host)
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
                continue
            readable, _, _ = select.select([proc.stdout], [], [], 0.1)
            if readable:
                line = proc.stdout.readline()
                if line.startswith("READY"):
                    return RunningServer(lab, proc, self, ctx, host)
                if line == "":
                    break
            elif proc.poll() is not None:
                break
        lab.stop(proc)
        raise self.start_failed(host, ctx)

    def start_failed(self, host: str, ctx: ServerContext) -> ServerStartFailed:
        """Why the server did not come up, from its stderr (else its log)."""
        err = (
            ctx.log.with_suffix(".stderr").read_text(errors="replace").strip().splitlines()[-5:]
            if ctx.log.with_suffix(".stderr").exists()
            else []
        )
        if ctx.log.exists() and not err:
            err = ctx.log.read_text(errors="replace").strip().splitlines()[-3:]
        return ServerStartFailed(
            f"{self.name} did not become ready in {host} "
            f"within {self.ready_timeout:.0f}s: {' | '.join(err) or 'no output'}"
        )


_REGISTRY: Registry[ServerAdapter] = Registry("server", __name__)


def register(adapter: ServerAdapter) -> None:
    _REGISTRY.add(adapter.name, adapter)


names, get = _REGISTRY.names, _REGISTRY.get


def identify(greeting: list[str] | tuple[str, ...]) -> ServerAdapter | None:
    """The registered server whose greeting this is, if any."""
    text = "\n".join(greeting)
    return next((a for a in map(get, names()) if a.banner is not None and a.banner.search(text)), None)


def setting_names(knob: str) -> str:
    """Every server's own setting for `knob`, e.g. "vsftpd require_ssl_reuse=NO, ProFTPD ..."."""
    return ", ".join(f"{a.label or a.name} {a.settings[knob]}" for a in map(get, names()) if knob in a.settings)
