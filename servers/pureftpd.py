"""Pure-FTPd 1.0.50 from Debian, run from the peer cache.

The test user is a virtual user in a PureDB file (made with the cache's pure-pw), mapped to
nobody. TLS is explicit only: Pure-FTPd has no implicit-TLS mode, so those cases are skips.
Pure-FTPd logs only to syslog, so its side of the control channel is not in the evidence;
the client's transcript is.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from harness.core import family
from harness.core.case import ServerSpec
from servers import ServerAdapter, ServerContext, crypt_password, register
from servers._peers import binary, root, version

NOBODY, NOGROUP = 65534, 65534


class PureFtpd(ServerAdapter):
    name = "pure-ftpd"
    label = "Pure-FTPd"
    settings = {"masquerade": "-P", "tls-login-required": "-Y 2", "tls-data-required": "-Y 3", "no-anonymous": "-E"}
    banner = re.compile(r"^220-+ Welcome to Pure-FTPd\b", re.M)
    # -P resolved as IPv4 only: another value ends every session at the greeting
    says = {**ServerAdapter.says, "refuses:masquerade": re.compile(r"Illegal forced IP for passive connections")}
    order = 3
    summary = "Pure-FTPd 1.0.50 (Debian); explicit TLS only; logs to syslog only"
    prints_ready = False

    def version(self) -> str:
        return version("pure-ftpd")

    def supports(self, spec: ServerSpec) -> str | None:
        if spec.mode.implicit:
            return "Pure-FTPd has no implicit TLS (port 990) mode"
        if spec.reuse != "default":
            return "Pure-FTPd has no setting for TLS session reuse on data connections"
        return None

    def prepare(self, spec: ServerSpec, ctx: ServerContext) -> None:
        base = ctx.log.with_suffix("")
        pw, pdb = base.with_suffix(".pw"), base.with_suffix(".pdb")
        for f in (pw, pdb):
            f.unlink(missing_ok=True)
        # pure-pw would hash with argon2 (seconds per login on 2 busy cores, which a client
        # times out on); a SHA-512 crypt hash is what many real installs carry anyway.
        crypted = crypt_password(ctx.password)
        pw.write_text(f"{ctx.user}:{crypted}:{NOBODY}:{NOGROUP}::{ctx.home}/./::::::::::::\n")
        pw.chmod(0o600)
        subprocess.run(
            [str(root("pure-ftpd") / "usr/bin/pure-pw"), "mkdb", str(pdb), "-f", str(pw)],
            capture_output=True,
            text=True,
            check=True,
        )
        # Pure-FTPd wants the key and the certificate in one PEM file.
        pem = base.with_suffix(".pem")
        pem.write_text(ctx.certs.key.read_text() + ctx.certs.cert.read_text())
        pem.chmod(0o600)
        ctx.log.write_text("pure-ftpd logs to syslog only; no control transcript from the server\n")

    def argv(self, spec: ServerSpec, ctx: ServerContext) -> list[str]:
        base = ctx.log.with_suffix("")
        argv = [
            str(binary("pure-ftpd")),
            "-S",
            f"{family.of(ctx.public_ip).any_address},{spec.control_port}",
            "-l",
            f"puredb:{base.with_suffix('.pdb')}",
            "-E",
            "-A",
            "-H",
            "-p",
            f"{spec.passive.first}:{spec.passive.last}",
        ]
        if spec.masquerade:
            argv += ["-P", ctx.public_ip]
        if spec.permit_foreign:
            argv += ["-w"]
        if spec.mode.control_tls:
            argv += ["-Y", "3", "-2", str(base.with_suffix(".pem"))]  # 3: TLS for control and data
        return argv

    def read_log(self, path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
        return [], offset


register(PureFtpd())
