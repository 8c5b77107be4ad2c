"""vsftpd 3.0.3 from Debian, run from the peer cache.

Login is anonymous (vsftpd authenticates local users through PAM, which would need the
host's /etc/pam.d): the anonymous user runs as `daemon` (vsftpd changes into that account's home, which must exist: nobody's is /nonexistent), chrooted to a read-only root
with a writable `pub/`. TLS is required for login and data when TLS is on, as for the other
servers. Its own default `require_ssl_reuse=YES` is kept unless the case says reuse off.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.build.follow import read_lines
from harness.core import family
from harness.core.case import ServerSpec
from servers import ServerAdapter, ServerContext, register
from servers._peers import binary, version

_LINE = re.compile(
    r"^(\w{3} \w{3} +\d+ [\d:]+ \d{4}) \[pid \d+\] (?:\[[^\]]*\] )?"
    r'(FTP command|FTP response|[A-Z ]+): Client "([^"]+)"(?:, "(.*)")?$'
)


class Vsftpd(ServerAdapter):
    name = "vsftpd"
    label = "vsftpd"
    settings = {
        "permit-foreign": "pasv_promiscuous",
        "reuse-off": "require_ssl_reuse=NO",
        "masquerade": "pasv_address",
        "no-foreign": "port_promiscuous=NO (default)",
        "tls-login-required": "force_local_logins_ssl=YES",
        "tls-data-required": "force_local_data_ssl=YES",
        "tls-1.2-minimum": "ssl_tlsv1=NO (and ssl_tlsv1_1=NO)",
        "strong-ciphers": "ssl_ciphers=HIGH:!aNULL:!MD5:!3DES:!RC4",
        "no-anonymous": "anonymous_enable=NO",
        "hide-version": "ftpd_banner=...",
    }
    banner = re.compile(r"^220 \(vsFTPd [\d.]+\)", re.M)
    # die(): the session process writes "500 OOPS: <reason>" straight to the control socket
    # (outside TLS, on a TLS connection) and exits.
    says = {**ServerAdapter.says, "fatal": re.compile(r"^500 OOPS: (?P<reason>.*)$")}
    quirks = {"feat-omits-auth-tls": "vsftpd 3.0.3 does not list AUTH TLS in its FEAT reply"}
    order = 1
    summary = "vsftpd 3.0.3 (Debian); require_ssl_reuse=YES by default"
    prints_ready = False
    upload_dir = "pub"

    def version(self) -> str:
        return version("vsftpd")

    credentials = ("anonymous", "probe@example.test")

    def prepare(self, spec: ServerSpec, ctx: ServerContext) -> None:
        anon_root = ctx.home / "root"
        (anon_root / "pub").mkdir(parents=True, exist_ok=True)
        anon_root.chmod(0o755)  # vsftpd refuses a writable chroot
        (anon_root / "pub").chmod(0o777)
        empty = ctx.home / "empty"
        empty.mkdir(exist_ok=True)
        tls = spec.mode.control_tls
        conf = {
            # listen_ipv6 is vsftpd's dual-stack listener (IPv4 arrives mapped); the lab only
            # enables IPv6 in IPv6 labs.
            **(
                {"listen": "NO", "listen_ipv6": "YES"}
                if family.of(ctx.public_ip).version == 6
                else {"listen": "YES", "listen_ipv6": "NO"}
            ),
            "listen_port": spec.control_port,
            "background": "NO",
            "anonymous_enable": "YES",
            "local_enable": "NO",
            "ftp_username": "daemon",
            "no_anon_password": "YES",
            "anon_root": anon_root,
            "write_enable": "YES",
            "anon_upload_enable": "YES",
            "anon_mkdir_write_enable": "YES",
            "anon_other_write_enable": "YES",
            "anon_world_readable_only": "NO",
            "anon_umask": "022",
            "secure_chroot_dir": empty,
            "seccomp_sandbox": "NO",
            "tcp_wrappers": "NO",
            "pasv_enable": "YES",
            "pasv_min_port": spec.passive.first,
            "pasv_max_port": spec.passive.last,
            "port_enable": "YES",
            "connect_from_port_20": "NO",
            "vsftpd_log_file": ctx.log,
            "log_ftp_protocol": "YES",
            "xferlog_enable": "YES",
            "dual_log_enable": "NO",
            "syslog_enable": "NO",
            "pasv_promiscuous": "YES" if spec.permit_foreign else "NO",
            "port_promiscuous": "YES" if spec.permit_foreign else "NO",
        }
        if spec.masquerade:
            conf["pasv_address"] = ctx.public_ip
        if tls:
            conf.update(
                {
                    "ssl_enable": "YES",
                    "allow_anon_ssl": "YES",
                    "force_anon_logins_ssl": "YES",
                    "force_anon_data_ssl": "YES",
                    "rsa_cert_file": ctx.certs.cert,
                    "rsa_private_key_file": ctx.certs.key,
                    "ssl_tlsv1": "NO",
                    "ssl_sslv2": "NO",
                    "ssl_sslv3": "NO",
                    "implicit_ssl": "YES" if spec.mode.implicit else "NO",
                }
            )
            if spec.reuse == "off":
                conf["require_ssl_reuse"] = "NO"
        ctx.log.touch()
        path = ctx.log.with_suffix(".conf")
        path.write_text("".join(f"{k}={v}\n" for k, v in conf.items()))
        os.chmod(path, 0o600)  # vsftpd refuses a config others can write

    def argv(self, spec: ServerSpec, ctx: ServerContext) -> list[str]:
        return [str(binary("vsftpd")), str(ctx.log.with_suffix(".conf"))]

    def read_log(self, path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
        lines, offset = read_lines(path, offset)
        events = []
        for raw in lines:
            m = _LINE.match(raw.strip())
            if not m:
                if raw.strip():
                    events.append({"t": 0.0, "kind": "log", "peer": "-", "line": raw.strip()})
                continue
            when, what, peer, text = m.groups()
            t = datetime.strptime(when, "%a %b %d %H:%M:%S %Y").timestamp()
            kind = {"FTP command": "recv", "FTP response": "sent"}.get(what, "log")
            line = text if kind != "log" else f"{what.strip()}{': ' + text if text else ''}"
            events.append({"t": t, "kind": kind, "peer": peer, "line": line})
        return events, offset


register(Vsftpd())
