"""curl (Debian's 7.88.1) as an FTP/FTPS client, run inside the client host.

One case is three curl runs, as a user would script it: upload (-T), list, then download
with a post-transfer DELE; then the download is compared with the upload. `-v` gives the
control transcript and the data connection attempts; curl's exit code and message give the
failing step. curl reuses the control connection's TLS session on data connections.
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

# curl exit codes -> (step, stage) when the trace does not say more
EXIT = {
    6: ("connect", "connect"), 60: ("tls-handshake", "tls-handshake"),
    64: ("tls-handshake", "tls-handshake"), 67: ("login", "login"), 9: ("login", "login"),
    8: ("data-setup", "data-setup"), 13: ("data-setup", "data-setup"), 14: ("data-setup", "data-setup"),
    30: ("data-setup", "data-setup"), 31: ("data-setup", "data-setup"),
    10: ("data-connect", "data-connect"), 12: ("data-connect", "data-connect"),
    25: ("transfer", "transfer"), 18: ("transfer", "transfer"), 19: ("transfer", "transfer"),
    55: ("transfer", "transfer"), 56: ("transfer", "transfer"), 78: ("transfer", "transfer"),
}
_ADDR = r"\[?[\d.a-fA-F:]+\]?"
_TRYING = re.compile(r"^\*\s+Trying \[?([\d.a-fA-F:]+?)\]?:(\d+)\.\.\.")
_FAIL = re.compile(rf"^\* (?:Immediate connect fail for {_ADDR}|connect to {_ADDR} port \d+ failed|"
                   rf"Failed to connect to {_ADDR} port \d+[^:]*): (.*)$")
_CURL_ERR = re.compile(r"^curl: \((\d+)\) (.*)$", re.M)


def parse(out: str, control_port: int) -> list[dict[str, Any]]:
    """curl -v output -> transcript entries: sent, recv, and data-connection facts."""
    tr: list[dict[str, Any]] = []
    after_data_reply = False
    for raw in out.splitlines():
        if raw.startswith("> "):
            line = raw[2:]
            tr.append({"dir": "sent", "line": "PASS ******" if line.startswith("PASS ") else line})
        elif raw.startswith("< "):
            tr.append({"dir": "recv", "line": raw[2:]})
            after_data_reply = raw[2:5] in ("227", "229")
        elif after_data_reply and (m := _TRYING.match(raw)) and int(m.group(2)) != control_port:
            tr.append({"dir": "data", "info": {"target": f"{m.group(1)}:{m.group(2)}", "connect": "ok"}})
        elif (m := _FAIL.match(raw)) and tr and tr[-1]["dir"] == "data" and \
                tr[-1]["info"].get("connect") == "ok":  # the first failure after "Trying" says why
            tr.append({"dir": "data", "info": {"connect": _cli.kind_of(m.group(1)), "error": m.group(1)}})
        elif raw.startswith("* Connection accepted from server"):
            tr.append({"dir": "data", "info": {"connect": "ok"}})
        elif "Accept timeout occurred" in raw or "Error accept()ing server connect" in raw:
            tr.append({"dir": "data", "info": {"connect": "timeout", "error": raw[2:]}})
        elif raw.startswith("* Skip ") and "for data connection" in raw:
            tr.append({"dir": "data", "info": {"note": raw[2:]}})
    return tr


class Curl(ClientAdapter):
    name = "curl"
    order = 2
    summary = "curl 7.88.1 (Debian); EPSV first, skips the PASV address by default, reuses TLS sessions"

    def version(self) -> str:
        import subprocess
        try:
            return subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()[1]
        except (OSError, IndexError):
            return "?"

    def options(self, case, ctx: ClientContext) -> list[str]:
        # curl's connect timeout also bounds the data connection's TLS handshake, which some
        # servers (ProFTPD) start only after the transfer command: keep it well above a LAN RTT.
        o = ["-v", "-sS", "--connect-timeout", "5", "--max-time", "15",
             "--cacert", str(ctx.ca), "-u", f"{ctx.user}:{ctx.password}"]
        if case.server.tls == "explicit":
            o.append("--ssl-reqd")
        mode = case.client.mode
        if mode == "pasv":
            o += ["--ftp-pasv", "--disable-epsv",
                  "--ftp-skip-pasv-ip" if case.client.pasv_address == "control" else "--no-ftp-skip-pasv-ip"]
        elif mode == "epsv":
            o += ["--ftp-pasv"]
        else:
            o += ["-P", "-"] + (["--disable-eprt"] if mode == "port" else [])
        return o

    def url(self, case, ctx: ClientContext, name: str = "") -> str:
        scheme = "ftps" if case.server.tls == "implicit" else "ftp"
        path = f"/{ctx.cwd}/" if ctx.cwd else "/"
        return f"{scheme}://{url_host(ctx.host)}:{case.server.control_port}{path}{name}"

    def session(self, lab, host: str, case, ctx: ClientContext) -> dict[str, Any]:
        work = Path(tempfile.mkdtemp(prefix="curl-"))
        up, data = _cli.payload(work, ctx.size)
        name = up.name
        down, listing = work / "down.bin", work / "list.txt"
        try:
            return self._session(lab, host, case, ctx, work, up, data, name, down, listing)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _session(self, lab, host, case, ctx, work, up, data, name, down, listing) -> dict[str, Any]:
        base = ["curl", *self.options(case, ctx)]
        runs = [("stor", base + ["-T", str(up), self.url(case, ctx, name)]),
                ("list", base + ["-o", str(listing), self.url(case, ctx)]),
                ("retr", base + ["-o", str(down), "-Q", f"-DELE {name}", self.url(case, ctx, name)])]
        transcript: list[dict[str, Any]] = []
        raw: list[str] = []
        steps: list[dict[str, Any]] = []
        report: dict[str, Any] = {"transcript": transcript, "steps": steps, "raw_output": raw}
        for step, argv in runs:
            code, out = _cli.run(lab, host, argv, timeout=20,
                                 env={"SSLKEYLOGFILE": str(ctx.keylog)} if ctx.keylog else None)
            shown = " ".join(a if not a.startswith(f"{ctx.user}:") else f"{ctx.user}:******" for a in argv)
            out_shown = re.sub(r"(?m)^> PASS .*$", "> PASS ******", out)
            raw.append(f"$ {shown}\n{out_shown[-4000:]}\nexit {code}")
            part = parse(out, case.server.control_port)
            transcript.extend(part)
            if code != 0:
                report["result"] = self._failure(code, out, part, case, step)
                break
            steps.append({"step": step, "ok": True})
        else:
            ok = _cli.sha_ok(down, data)
            report["result"] = _cli.result(True) if ok else _cli.result(
                False, "integrity", "integrity", "mismatch",
                f"downloaded file differs from the {len(data)} bytes uploaded (SHA-256 mismatch)")
        report["data"] = _cli.data_records(transcript, ctx.host)
        report["transcript"] = [t for t in transcript if t["dir"] != "data"]
        return report

    def _failure(self, code: int, out: str, part: list[dict[str, Any]], case, step: str) -> dict[str, Any]:
        m = _CURL_ERR.search(out)
        message = f"curl: ({code}) {m.group(2)}" if m else f"curl exited {code}"
        greeted = any(t["dir"] == "recv" and t["line"].startswith("220") for t in part)
        data = [t["info"] for t in part if t["dir"] == "data" and "connect" in t["info"]]
        data_failed = bool(data) and data[-1]["connect"] != "ok"
        reply = _cli.last_reply(part)
        if code == -1:
            return _cli.result(False, step, "transfer", "timeout", "curl did not finish in 20 s", reply)
        if not greeted:
            stage = "tls-handshake" if case.server.tls == "implicit" and code == 35 else "connect"
            return _cli.result(False, "connect", stage, _cli.kind_of(message), message, reply)
        if data_failed or code in (7, 28) and data:
            return _cli.result(False, "data-connect", "data-connect", data[-1]["connect"] if data else
                               _cli.kind_of(message), message, reply)
        if code == 35:
            after_data = any(t["dir"] == "recv" and t["line"][:3] in ("227", "229", "200") and
                             "PORT" not in t["line"] for t in part) and data
            stage = "data-tls" if after_data else "tls-handshake"
            return _cli.result(False, stage, stage, "tls-error", message, reply)
        if reply and reply.startswith("522"):
            return _cli.result(False, "data-tls", "data-tls", "reply", message, reply)
        step2, stage = EXIT.get(code, (step, "transfer"))
        if code in (7, 28):
            step2, stage = ("login", "login") if not data else ("data-connect", "data-connect")
        return _cli.result(False, step2, stage, _cli.kind_of(message) if code not in (67, 9) else "reply",
                           message, reply)


register(Curl())
