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
from typing import Any

from harness.family import url_host

from . import ClientAdapter, ClientContext, register
from . import _cli

_CONNECTING = re.compile(r"^---- Connecting data socket to \(([\d.]+)\) port (\d+)")
_ACCEPTED = re.compile(r"^---- Accepted data connection from \(([\d.]+)\) port (\d+)")
_ERROR = re.compile(r"^(?:put|get|cls|rm|open|cd): (.*)$", re.M)


def parse(out: str) -> list[dict[str, Any]]:
    tr: list[dict[str, Any]] = []
    for raw in out.splitlines():
        if raw.startswith("---> "):
            line = raw[5:]
            tr.append({"dir": "sent", "line": "PASS ******" if line.startswith("PASS ") else line})
        elif raw.startswith("<--- "):
            tr.append({"dir": "recv", "line": raw[5:]})
        elif m := _CONNECTING.match(raw):
            tr.append({"dir": "data", "info": {"target": f"{m.group(1)}:{m.group(2)}", "connect": "ok"}})
        elif raw.startswith("**** ") and tr and tr[-1]["dir"] == "data" and \
                tr[-1]["info"].get("connect") == "ok":  # e.g. "Data socket error (Connection refused)"
            tr.append({"dir": "data", "info": {"connect": _cli.kind_of(raw), "error": raw[5:]}})
        elif m := _ACCEPTED.match(raw):
            tr.append({"dir": "data", "info": {"connect": "ok", "peer": f"{m.group(1)}:{m.group(2)}"}})
        elif raw.startswith("---- Address returned by PASV"):
            tr.append({"dir": "data", "info": {"note": raw[5:]}})
    return tr


class Lftp(ClientAdapter):
    name = "lftp"
    order = 3
    summary = "lftp 4.9.2 (Debian); fixes a wrong PASV address by default; EPRT only on IPv6"

    def version(self) -> str:
        import subprocess
        try:
            return subprocess.run(["lftp", "--version"], capture_output=True, text=True).stdout.split()[3]
        except (OSError, IndexError):
            return "?"

    def supports(self, case) -> str | None:
        if case.client.mode == "eprt" and case.net.family == "ipv4":
            return "lftp has no setting that makes it send EPRT; on IPv4 it chose PORT in every run"
        return None

    def script(self, case, ctx: ClientContext, up: Path, down: Path, name: str) -> str:
        tls = case.server.tls
        mode = case.client.mode
        s = ["set cmd:fail-exit yes", "set net:max-retries 1", "set net:reconnect-interval-base 1",
             f"set net:timeout {int(ctx.timeout)}", "set xfer:clobber on",
             f"set ssl:ca-file {ctx.ca}", "set ssl:verify-certificate yes",
             f"set ftp:ssl-allow {'yes' if tls != 'none' else 'no'}",
             f"set ftp:ssl-force {'yes' if tls != 'none' else 'no'}",
             "set ftp:ssl-protect-data yes", "set ftp:ssl-allow-anonymous yes",
             f"set ftp:passive-mode {'on' if mode in ('pasv', 'epsv') else 'off'}",
             f"set ftp:prefer-epsv {'yes' if mode == 'epsv' else 'no'}",
             f"set ftp:fix-pasv-address {'no' if case.client.pasv_address == 'trust' else 'yes'}"]
        scheme = "ftps" if tls == "implicit" else "ftp"
        s.append(f"open -u {ctx.user},{ctx.password} {scheme}://{url_host(ctx.host)}:{case.server.control_port}")
        if ctx.cwd:
            s.append(f"cd {ctx.cwd}")
        s += [f"put {up} -o {name}", "cls -l", f"get {name} -o {down}", f"rm {name}"]
        return "; ".join(s)

    def session(self, lab, host: str, case, ctx: ClientContext) -> dict[str, Any]:
        work = Path(tempfile.mkdtemp(prefix="lftp-"))
        try:
            up, data = _cli.payload(work, ctx.size)
            down = work / "down.bin"
            argv = ["lftp", "-d", "-c", self.script(case, ctx, up, down, up.name)]
            code, out = _cli.run(lab, host, argv, timeout=30,
                                 env={"SSLKEYLOGFILE": str(ctx.keylog)} if ctx.keylog else None)
            part = parse(out)
            shown = re.sub(r"(?m)^---> PASS .*$", "---> PASS ******", out)
            report: dict[str, Any] = {"raw_output": [f"$ lftp -d -c '…'\n{shown[-6000:]}\nexit {code}"],
                                      "steps": []}
            if code == 0:
                report["result"] = _cli.result(True) if _cli.sha_ok(down, data) else _cli.result(
                    False, "integrity", "integrity", "mismatch",
                    f"downloaded file differs from the {len(data)} bytes uploaded (SHA-256 mismatch)")
            else:
                report["result"] = self._failure(code, out, part, case)
            report["data"] = _cli.data_records(part, ctx.host)
            report["transcript"] = [t for t in part if t["dir"] != "data"]
            return report
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _failure(self, code: int, out: str, part: list[dict[str, Any]], case) -> dict[str, Any]:
        m = _ERROR.findall(out)
        message = m[-1] if m else f"lftp exited {code}"
        reply = _cli.last_reply(part)
        greeted = any(t["dir"] == "recv" and t["line"].startswith("220") for t in part)
        data = [t["info"] for t in part if t["dir"] == "data" and "connect" in t["info"]]
        logged_in = any(t["dir"] == "recv" and t["line"].startswith("230") for t in part)
        low = message.lower()
        if code == -1:
            return _cli.result(False, "transfer", "transfer", "timeout", "lftp did not finish in 30 s", reply)
        if not greeted:
            stage = "tls-handshake" if case.server.tls == "implicit" and "certificate" in low else "connect"
            return _cli.result(False, "connect", stage, _cli.kind_of(message), message, reply)
        if "certificate" in low or not logged_in and ("ssl" in low or "tls" in low):
            return _cli.result(False, "tls-handshake", "tls-handshake", "tls-error", message, reply)
        if not logged_in:
            return _cli.result(False, "login", "login", "reply", message, reply)
        if data and data[-1]["connect"] != "ok":
            return _cli.result(False, "data-connect", "data-connect", data[-1]["connect"], message, reply)
        if reply and (reply.startswith("522") or "reuse" in reply.lower()):
            return _cli.result(False, "data-tls", "data-tls", "reply", message, reply)
        if reply and reply[:3] in ("425", "426") or "foreign" in (reply or "").lower():
            return _cli.result(False, "data-connect", "data-connect", "reply", message, reply)
        if reply and reply[:3] in ("500", "501", "502", "504"):
            return _cli.result(False, "data-setup", "data-setup", "reply", message, reply)
        return _cli.result(False, "transfer", "transfer", _cli.kind_of(message), message, reply)


register(Lftp())
