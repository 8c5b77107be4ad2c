"""lftp (Debian's 4.9.2) as an FTP/FTPS client, run inside the client host.

One lftp script per case: open, put, cls -l, get, rm, in one session. `lftp -d` gives the
control transcript and the data connection attempts. Retries are cut to one so a failure
shows at once instead of after minutes of reconnecting. lftp copies the control
connection's TLS session to data connections (ftp:ssl-copy-sid).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clients import ClientAdapter, ClientContext, _cli, register
from harness.core.case import Case
from harness.core.family import url_host
from harness.observe.observation import ClientReport, ExitSays, Failure

if TYPE_CHECKING:
    from harness.build.backends.base import Lab

_CONNECTING = re.compile(r"^---- Connecting data socket to \(([\d.]+)\) port (\d+)")
_CONTROL = re.compile(r"^---- Connecting to \S+ \(([\d.]+)\) port (\d+)")
_ACCEPTED = re.compile(r"^---- Accepted data connection from \(([\d.]+)\) port (\d+)")
_ERROR = re.compile(r"^(?:put|get|cls|rm|open|cd): (.*)$", re.M)
# What lftp's messages say, first match wins: a certificate error is a failed handshake; other
# words of TLS do not say which connection.
MESSAGES: tuple[tuple[re.Pattern[str], ExitSays], ...] = (
    (re.compile(r"certificate", re.I), "tls"),
    (re.compile(r"ssl|tls", re.I), "tls-unclear"),
)


def parse(out: str) -> list[dict[str, Any]]:
    """lftp -d output -> transcript entries: sent, recv, control and data-connection facts,
    each with its session (lftp opens a new control connection after some errors)."""
    tr: list[dict[str, Any]] = []
    session, control = -1, None
    for raw in out.splitlines():
        if m := _CONTROL.match(raw):
            session += 1
            control = {"target": f"{m.group(1)}:{m.group(2)}"}
            tr.append({"dir": "control", "info": control})
        elif raw.startswith("---> "):
            line = raw[5:]
            tr.append({"dir": "sent", "line": "PASS ******" if line.startswith("PASS ") else line})
        elif raw.startswith("<--- "):
            tr.append({"dir": "recv", "line": raw[5:]})
            if control is not None:
                control.setdefault("connect", "ok")
        elif m := _CONNECTING.match(raw):
            tr.append({"dir": "data", "info": {"target": f"{m.group(1)}:{m.group(2)}", "connect": "ok"}})
        elif (
            raw.startswith("**** ") and tr and tr[-1]["dir"] == "data" and tr[-1]["info"].get("connect") == "ok"
        ):  # e.g. "Data socket error (Connection refused)"
            tr.append({"dir": "data", "info": {"connect": _cli.kind_of(raw), "error": raw[5:]}})
        elif raw.startswith("**** ") and control is not None and "connect" not in control:
            control.update(connect=_cli.kind_of(raw), error=raw[5:])
        elif m := _ACCEPTED.match(raw):
            tr.append({"dir": "data", "info": {"connect": "ok", "peer": f"{m.group(1)}:{m.group(2)}"}})
        elif raw.startswith("---- Address returned by PASV"):
            tr.append({"dir": "data", "info": {"note": raw[5:]}})
        else:
            continue
        tr[-1]["session"] = max(session, 0)
    return tr


class Lftp(ClientAdapter):
    name = "lftp"
    order = 3
    summary = "lftp 4.9.2 (Debian); fixes a wrong PASV address by default; EPRT only on IPv6"
    reuses_tls_sessions = True  # ftp:ssl-copy-sid

    def version(self) -> str:
        import subprocess

        try:
            return subprocess.run(["lftp", "--version"], capture_output=True, text=True).stdout.split()[3]
        except (OSError, IndexError):
            return "?"

    def supports(self, case: Case) -> str | None:
        if case.client.mode == "eprt" and case.net.family == "ipv4":
            return "lftp has no setting that makes it send EPRT; on IPv4 it chose PORT in every run"
        if case.client.keepalive:  # 4.9.2: `set -a` lists no keepalive; ftp:nop-interval is for tail only
            return "lftp 4.9.2 has no setting for keepalives on the control connection during a transfer"
        return None

    def script(self, case: Case, ctx: ClientContext, up: Path, down: Path, name: str) -> str:
        tls = case.server.mode
        mode = case.client.mode
        s = [
            "set cmd:fail-exit yes",
            "set net:max-retries 1",
            "set net:reconnect-interval-base 1",
            f"set net:timeout {int(ctx.timeout)}",
            "set xfer:clobber on",
            *([f"set ssl:ca-file {ctx.ca}"] if case.client.verify_cert != "system" else []),
            f"set ftp:ssl-allow {'yes' if tls.control_tls else 'no'}",
            f"set ftp:ssl-force {'yes' if tls.control_tls else 'no'}",
            "set ftp:ssl-protect-data yes",
            "set ftp:ssl-allow-anonymous yes",
            f"set ftp:ssl-use-ccc {'yes' if tls.clears_control else 'no'}",
            f"set ssl:verify-certificate {'no' if case.client.verify_cert == 'off' else 'yes'}",
            f"set ftp:passive-mode {'on' if mode in ('pasv', 'epsv') else 'off'}",
            f"set ftp:prefer-epsv {'yes' if mode == 'epsv' else 'no'}",
            f"set ftp:fix-pasv-address {'no' if case.client.pasv_address == 'trust' else 'yes'}",
        ]
        scheme = "ftps" if tls.implicit else "ftp"
        s.append(f"open -u {ctx.user},{ctx.password} {scheme}://{url_host(ctx.host)}:{ctx.dial_port(case)}")
        if ctx.cwd:
            s.append(f"cd {ctx.cwd}")
        if case.client.tls_version == "1.2":  # lftp uses GnuTLS: its priority string caps the version
            s.insert(0, 'set ssl:priority "NORMAL:-VERS-TLS1.3"')
        s += [f"put {up} -o {name}", "cls -l", f"get {name} -o {down}", f"rm {name}"]
        for i in range(2, case.client.transfers + 1):
            s += [f"put {up} -o {name}.{i}", f"get {name}.{i} -o {down}.{i}", f"rm {name}.{i}"]
        return "; ".join(s)

    def session(self, lab: Lab, host: str, case: Case, ctx: ClientContext) -> ClientReport:
        work = Path(tempfile.mkdtemp(prefix="lftp-"))
        try:
            up, data = _cli.payload(work, ctx.size)
            down = work / "down.bin"
            argv = ["lftp", "-d", "-c", self.script(case, ctx, up, down, up.name)]
            code, out = _cli.run(
                lab, host, argv, timeout=30, env={"SSLKEYLOGFILE": str(ctx.keylog)} if ctx.keylog else None
            )
            part = parse(out)
            shown = re.sub(r"(?m)^---> PASS .*$", "---> PASS ******", out)
            if ctx.log:
                ctx.log.write_text(shown)
            if code == 0:
                downs = [down] + [Path(f"{down}.{i}") for i in range(2, case.client.transfers + 1)]
                ok = all(_cli.sha_ok(d, data) for d in downs)
                failure = None if ok else _cli.integrity_failure(len(data))
            else:
                failure = self._failure(code, out, part)
            return ClientReport(
                ok=failure is None,
                transcript=_cli.lines(part),
                connections=tuple(_cli.connections(part, ctx.host)),
                failure=failure,
                raw_output=(f"$ lftp -d -c '…'\n{shown[-6000:]}\nexit {code}",),
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def exit_says(self, failure: Failure) -> ExitSays | None:
        """lftp exits 1 for every failure: its message says what kind of failure it was."""
        if failure.exit_code == -1:
            return "hung"
        return next((says for pattern, says in MESSAGES if pattern.search(failure.error)), None)

    def _failure(self, code: int, out: str, part: list[dict[str, Any]]) -> Failure:
        """What lftp said, as facts; harness/judge/stages.py places it."""
        if code == -1:
            return Failure("timeout", "lftp did not finish in 30 s", _cli.last_reply(part), exit_code=-1)
        m = _ERROR.findall(out)
        message = m[-1] if m else f"lftp exited {code}"
        return Failure(_cli.kind_of(message), message, _cli.last_reply(part), exit_code=code)


register(Lftp())
