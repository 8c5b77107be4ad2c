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
from typing import TYPE_CHECKING, Any

from clients import ClientAdapter, ClientContext, KnownBug, _cli, register
from harness.core.case import Case
from harness.core.family import url_host
from harness.observe.observation import ClientReport, ExitSays, Failure, Step

if TYPE_CHECKING:
    from harness.build.backends.base import Lab

# What curl's exit codes say (curl's man page, EXIT CODES), in the words every client shares.
EXIT: dict[int, ExitSays] = {
    -1: "hung",
    6: "no-connection",
    35: "tls",
    60: "certificate",
    64: "certificate",
    67: "login-refused",
    9: "login-refused",
    7: "unreached",
    28: "unreached",
    **dict.fromkeys((8, 13, 14, 30, 31), "negotiation"),
    **dict.fromkeys((10, 12), "data-connection"),
    **dict.fromkeys((25, 18, 19, 55, 56, 78), "transfer-failed"),
}
_ADDR = r"\[?[\d.a-fA-F:]+\]?"
_TRYING = re.compile(r"^\*\s+Trying \[?([\d.a-fA-F:]+?)\]?:(\d+)\.\.\.")
_FAIL = re.compile(
    rf"^\* (?:Immediate connect fail for {_ADDR}|connect to {_ADDR} port \d+ failed|"
    rf"Failed to connect to {_ADDR} port \d+[^:]*): (.*)$"
)
_CURL_ERR = re.compile(r"^curl: \((\d+)\) (.*)$", re.M)


def parse(out: str, control_port: int) -> list[dict[str, Any]]:
    """curl -v output -> transcript entries: sent, recv, and data-connection facts."""
    tr: list[dict[str, Any]] = []
    after_data_reply = False
    control: dict[str, Any] | None = None
    for raw in out.splitlines():
        if raw.startswith("> "):
            line = raw[2:]
            tr.append({"dir": "sent", "line": "PASS ******" if line.startswith("PASS ") else line})
        elif raw.startswith("< "):
            tr.append({"dir": "recv", "line": raw[2:]})
            after_data_reply = raw[2:5] in ("227", "229")
        elif after_data_reply and (m := _TRYING.match(raw)) and int(m.group(2)) != control_port:
            tr.append({"dir": "data", "info": {"target": f"{m.group(1)}:{m.group(2)}", "connect": "ok"}})
        elif (
            (m := _FAIL.match(raw)) and tr and tr[-1]["dir"] == "data" and tr[-1]["info"].get("connect") == "ok"
        ):  # the first failure after "Trying" says why
            tr.append({"dir": "data", "info": {"connect": _cli.kind_of(m.group(1)), "error": m.group(1)}})
        elif (m := _TRYING.match(raw)) and int(m.group(2)) == control_port and control is None:
            control = {"target": f"{m.group(1)}:{m.group(2)}"}
            tr.append({"dir": "control", "info": control})
        elif raw.startswith("* Connected to ") and control is not None and "connect" not in control:
            control["connect"] = "ok"
        elif (m := _FAIL.match(raw)) and control is not None and "connect" not in control:
            control.update(connect=_cli.kind_of(m.group(1)), error=m.group(1))
        elif raw.startswith("* We are completely uploaded and fine"):
            tr.append({"dir": "data", "info": {"done": True}})
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
    reuses_tls_sessions = True
    keepalive = "--keepalive-time N (TCP keepalive, on by default every 60 s)"
    ccc_mode = "active"  # --ftp-ssl-ccc-mode: curl sends its close_notify first (passive: waits)
    known_bugs = (
        KnownBug(
            "inet_ntop() failed with errno 97",
            "curl 7.88 cannot do active-mode FTPS: '{error}'. This is a regression in curl "
            "itself (curl issue 10666, fixed in curl 8.0.0), not the network; use passive "
            "mode or a newer curl.",
        ),
    )

    def version(self) -> str:
        import subprocess

        try:
            return subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()[1]
        except (OSError, IndexError):
            return "?"

    def options(self, case: Case, ctx: ClientContext) -> list[str]:
        # curl's connect timeout also bounds the data connection's TLS handshake, which some
        # servers (ProFTPD) start only after the transfer command: keep it well above a LAN RTT.
        o = ["-v", "-sS", "--connect-timeout", "5", "--max-time", "15", "-u", f"{ctx.user}:{ctx.password}"]
        if case.client.verify_cert != "system":
            o += ["--cacert", str(ctx.ca)]
        tls = case.server.mode
        if tls.control_tls and not tls.implicit:
            o.append("--ssl-reqd")
        if case.client.keepalive:
            o += ["--keepalive-time", str(case.client.keepalive)]
        if tls.clears_control:
            o += ["--ftp-ssl-ccc", "--ftp-ssl-ccc-mode", self.ccc_mode]
        if tls.control_tls and case.client.tls_version == "1.2":
            o += ["--tls-max", "1.2"]
        if tls.control_tls and case.client.verify_cert == "off":
            o.append("-k")
        mode = case.client.mode
        if mode == "pasv":
            o += [
                "--ftp-pasv",
                "--disable-epsv",
                "--ftp-skip-pasv-ip" if case.client.pasv_address == "control" else "--no-ftp-skip-pasv-ip",
            ]
        elif mode == "epsv":
            o += ["--ftp-pasv"]
        else:
            o += ["-P", "-"] + (["--disable-eprt"] if mode == "port" else [])
        return o

    def url(self, case: Case, ctx: ClientContext, name: str = "") -> str:
        scheme = "ftps" if case.server.mode.implicit else "ftp"
        path = f"/{ctx.cwd}/" if ctx.cwd else "/"
        return f"{scheme}://{url_host(ctx.host)}:{ctx.dial_port(case)}{path}{name}"

    def session(self, lab: Lab, host: str, case: Case, ctx: ClientContext) -> ClientReport:
        work = Path(tempfile.mkdtemp(prefix="curl-"))
        up, data = _cli.payload(work, ctx.size)
        name = up.name
        down, listing = work / "down.bin", work / "list.txt"
        try:
            return self._session(lab, host, case, ctx, work, up, data, name, down, listing)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _session(
        self,
        lab: Lab,
        host: str,
        case: Case,
        ctx: ClientContext,
        work: Path,
        up: Path,
        data: bytes,
        name: str,
        down: Path,
        listing: Path,
    ) -> ClientReport:
        base = ["curl", *self.options(case, ctx)]
        # N transfers: N uploads in one curl run (one control session), N downloads in another
        names = [name] + [f"{name}.{i + 1}" for i in range(1, case.client.transfers)]
        downs = [down] + [work / f"down.{i + 1}.bin" for i in range(1, len(names))]
        stor = [a for n in names for a in ("-T", str(up), self.url(case, ctx, n))]
        retr = [a for n, d in zip(names, downs) for a in ("-o", str(d), self.url(case, ctx, n))]
        runs = [
            ("stor", base + stor),
            ("list", base + ["-o", str(listing), self.url(case, ctx)]),
            ("retr", base + ["-Q", f"-DELE {name}"] * (len(names) == 1) + retr),
        ]
        transcript: list[dict[str, Any]] = []
        raw: list[str] = []
        steps: list[Step] = []
        failure: Failure | None = None
        for session, (step, argv) in enumerate(runs):
            code, out = _cli.run(
                lab, host, argv, timeout=20, env={"SSLKEYLOGFILE": str(ctx.keylog)} if ctx.keylog else None
            )
            shown = " ".join(a if not a.startswith(f"{ctx.user}:") else f"{ctx.user}:******" for a in argv)
            out_shown = re.sub(r"(?m)^> PASS .*$", "> PASS ******", out)
            raw.append(f"$ {shown}\n{out_shown[-4000:]}\nexit {code}")
            if ctx.log:
                with ctx.log.open("a") as f:
                    f.write(f"$ {shown}\n{out_shown}\n")
            part = parse(out, ctx.dial_port(case))
            for t in part:
                t["session"] = session
            transcript.extend(part)
            if code != 0:
                failure = self._failure(code, out, part, step)
                break
            steps.append(Step(step))
        else:
            if not all(_cli.sha_ok(d, data) for d in downs):
                failure = _cli.integrity_failure(len(data))
        return ClientReport(
            ok=failure is None,
            steps=tuple(steps),
            transcript=_cli.lines(transcript),
            connections=tuple(_cli.connections(transcript, ctx.host)),
            failure=failure,
            raw_output=tuple(raw),
        )

    def exit_says(self, failure: Failure) -> ExitSays | None:
        return None if failure.exit_code is None else EXIT.get(failure.exit_code, "other")

    def _failure(self, code: int, out: str, part: list[dict[str, Any]], command: str) -> Failure:
        """What curl said, as facts; harness/judge/stages.py places it."""
        if code == -1:
            return Failure("timeout", "curl did not finish in 20 s", None, command=command, exit_code=-1)
        m = _CURL_ERR.search(out)
        message = f"curl: ({code}) {m.group(2)}" if m else f"curl exited {code}"
        return Failure(_cli.kind_of(message), message, _cli.last_reply(part), command=command, exit_code=code)


register(Curl())
