"""ProFTPD 1.3.8 (mod_tls) from Debian, run from the peer cache.

Users come from an AuthUserFile (mod_auth_file), so no PAM or system account is needed;
the test user maps to nobody/nogroup. Every command and its reply go to an ExtendedLog in a
format the harness parses; TLSLog and SystemLog go to the same file as plain log lines.
ProFTPD requires TLS session reuse on data connections by default (the case can turn it off
with `TLSOptions NoSessionReuseRequired`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.build.follow import read_lines
from harness.core import family
from harness.core.case import ServerSpec
from servers import ServerAdapter, ServerContext, crypt_password, register
from servers._peers import binary, root, version

NOBODY, NOGROUP = 65534, 65534

# Between log fields: EPRT and 229 lines carry "|" themselves.
_SEP = "|~|"


class Proftpd(ServerAdapter):
    name = "proftpd"
    label = "ProFTPD"
    settings = {
        "permit-foreign": "AllowForeignAddress",
        "reuse-off": "TLSOptions NoSessionReuseRequired",
        "ccc": "TLSRequired auth+data",
        "masquerade": "MasqueradeAddress",
        "no-foreign": "AllowForeignAddress off (default)",
        "tls-login-required": "TLSRequired on",
        "tls-data-required": "TLSRequired on",
        "tls-1.2-minimum": "TLSProtocol TLSv1.2 TLSv1.3",
        "strong-ciphers": "TLSCipherSuite HIGH:!aNULL:!MD5:!3DES:!RC4",
        "no-anonymous": "no <Anonymous> block",
        "hide-version": "ServerIdent off",
    }
    banner = re.compile(r"^220[- ]ProFTPD\b", re.M)
    order = 2
    summary = "ProFTPD 1.3.8 mod_tls (Debian); requires TLS session reuse by default"
    prints_ready = False

    def version(self) -> str:
        return version("proftpd")

    def prepare(self, spec: ServerSpec, ctx: ServerContext) -> None:
        log = ctx.log
        base = log.with_suffix("")
        crypted = crypt_password(ctx.password)
        passwd, group = base.with_suffix(".passwd"), base.with_suffix(".group")
        passwd.write_text(f"{ctx.user}:{crypted}:{NOBODY}:{NOGROUP}::{ctx.home}:/bin/false\n")
        group.write_text(f"nogroup:x:{NOGROUP}:\n")
        passwd.chmod(0o600)
        group.chmod(0o600)
        lines = [
            'ServerName "ftps-harness proftpd"',
            "ServerType standalone",
            "DefaultServer on",
            f"Port {spec.control_port}",
            f"UseIPv6 {'on' if family.of(ctx.public_ip).version == 6 else 'off'}",
            "User nobody",
            "Group nogroup",
            f"PidFile {base}.pid",
            f"ScoreboardFile {base}.scoreboard",
            f"DelayTable {base}.delay",
            "WtmpLog off",
            "UseReverseDNS off",
            "RequireValidShell off",
            "AuthOrder mod_auth_file.c",
            f"AuthUserFile {passwd}",
            f"AuthGroupFile {group}",
            "DefaultRoot ~",
            f"PassivePorts {spec.passive.first} {spec.passive.last}",
            f"AllowForeignAddress {'on' if spec.permit_foreign else 'off'}",
            f"SystemLog {log}",
            f'LogFormat harness "{_SEP.join(("EXT", "%{epoch}", "%a", "%r", "%s", "%S"))}"',
            f"ExtendedLog {log} ALL harness",
            "TransferLog none",
            "<Directory ~>",
            "  AllowOverwrite on",
            "</Directory>",
        ]
        if spec.masquerade:
            lines.append(f"MasqueradeAddress {ctx.public_ip}")
        if spec.mode.control_tls:
            opts = []
            if spec.reuse == "off":
                opts.append("NoSessionReuseRequired")
            if spec.mode.implicit:
                opts.append("UseImplicitSSL")
            lines += [
                f"ModulePath {root('proftpd')}/usr/lib/proftpd",
                "LoadModule mod_tls.c",
                # CCC needs the control channel not to be required after login (534 otherwise)
                "TLSEngine on",
                f"TLSRequired {'auth+data' if spec.mode.clears_control else 'on'}",
                "TLSProtocol TLSv1.2 TLSv1.3",
                f"TLSECCertificateFile {ctx.certs.cert}",
                f"TLSECCertificateKeyFile {ctx.certs.key}",
                f"TLSLog {log}",
                "TLSVerifyClient off",
            ] + ([f"TLSOptions {' '.join(opts)}"] if opts else [])
        log.touch()
        base.with_suffix(".conf").write_text("\n".join(lines) + "\n")

    def argv(self, spec: ServerSpec, ctx: ServerContext) -> list[str]:
        return [str(binary("proftpd")), "--nodaemon", "--quiet", "-c", str(ctx.log.with_suffix(".conf"))]

    def read_log(self, path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
        lines, offset = read_lines(path, offset)
        events: list[dict[str, Any]] = []
        for raw in lines:
            if raw.startswith("EXT" + _SEP):
                parts = raw.split(_SEP, 5)
                if len(parts) == 6:
                    _, t, peer, cmd, code, msg = parts
                    events.append({"t": float(t), "kind": "recv", "peer": peer, "line": cmd})
                    events.append({"t": float(t), "kind": "sent", "peer": peer, "line": f"{code} {msg}".strip()})
                    continue
            if raw.strip():
                events.append({"t": 0.0, "kind": "log", "peer": "-", "line": raw.strip()})
        return events, offset


register(Proftpd())
