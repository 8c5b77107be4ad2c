"""`python -m harness probe HOST[:PORT]`: arguments and wiring only."""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from clients._wire import Bounds
from harness.core import inputs
from harness.core.case import DATA_MODES
from harness.judge.findings import SEVERITIES
from harness.probe import render
from harness.probe import session as S
from harness.probe.run import Options, probe

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _endpoint(text: str) -> tuple[str, int | None]:
    """HOST, HOST:PORT, [V6]:PORT or a bare IPv6 address."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if not host or any(c.isspace() for c in host) or len(host) > 253:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST[:PORT]")
    if port is not None and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise argparse.ArgumentTypeError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port) if port else None


def _bounce(text: str) -> tuple[str, int]:
    host, port = _endpoint(text)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise argparse.ArgumentTypeError("--bounce-target must be an IP address and port you own") from None
    return host, port or 9


def _modes(text: str) -> tuple[str, ...]:
    items = DATA_MODES if text == "all" else tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
    bad = [x for x in items if x not in DATA_MODES]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"--mode: valid: {','.join(DATA_MODES)} or all")
    return items


def _count(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not (text.isascii() and text.isdigit() and lo <= int(text) <= hi):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from {lo} to {hi}")
        return int(text)

    return parse


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = -1.0
    if not 0.1 <= v <= 120:
        raise argparse.ArgumentTypeError(f"{text!r}: seconds from 0.1 to 120")
    return v


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "probe",
        help="check a live FTP/FTPS server from this machine, with security findings",
        description="Probe a live server from this machine through its real network: every "
        "data mode, TLS, certificate and security findings. Without --write it "
        "never uploads.",
    )
    p.add_argument("target", type=_endpoint, metavar="HOST[:PORT]")
    p.add_argument(
        "--tls",
        choices=("auto", "explicit", "implicit", "none"),
        default="auto",
        help="auto: explicit if AUTH TLS is accepted, else implicit on 990, else plain",
    )
    p.add_argument("--user", default="anonymous", help="login name (default anonymous)")
    p.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="the password, first line of FILE (never on the command line)",
    )
    p.add_argument("--mode", type=_modes, default=DATA_MODES, help="data modes; default all four")
    p.add_argument("--tls-version", choices=("1.2", "1.3"), help="offer only this TLS version")
    p.add_argument("--transfers", type=_count(1, 20), default=1, help="listings per mode (default 1)")
    p.add_argument(
        "--verify-cert",
        action="store_true",
        help="fail the modes when the certificate does not verify (it is reported either way)",
    )
    p.add_argument("--ca", type=Path, metavar="FILE", help="verify against this CA file, not the system store")
    p.add_argument("--write", action="store_true", help="also upload, download, compare and delete a test file")
    p.add_argument("--download", metavar="PATH", help="download this file in each mode (never written)")
    p.add_argument(
        "--pasv-address",
        choices=("trust", "control"),
        default="trust",
        help="trust: connect to the address in the 227 reply (default); control: to the control connection's peer",
    )
    p.add_argument("--follow-foreign-pasv", action="store_true", help="connect even when a 227 points to a third party")
    p.add_argument(
        "--bounce-target",
        type=_bounce,
        metavar="IP:PORT",
        help="test FTP bounce: ask the server to connect to this address (one you own)",
    )
    p.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        default="high",
        help="exit 1 on a finding at or above this severity (default high)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=5.0,
        help="seconds per network wait (default 5); a whole reply or transfer may take three times that",
    )
    p.add_argument("--json", type=Path, metavar="PATH", help="write the probe document (JSON) here")
    p.add_argument("--markdown", type=Path, metavar="PATH", help="write a Markdown report here")
    p.add_argument("--html", type=Path, metavar="PATH", help="write an HTML report here")
    p.add_argument("-v", "--verbose", action="store_true", help="print every mode's control lines")


def run(args: argparse.Namespace, console: Console) -> int:
    password = "probe@example.com"
    if args.password_file:
        text = inputs.read_text(args.password_file, "password file", limit=4096)
        password = (text.splitlines() or [""])[0]
    elif args.user != "anonymous":
        raise inputs.InputError(f"--user {args.user} needs --password-file")
    for flag in ("json", "markdown", "html"):
        if getattr(args, flag):
            inputs.writable_file(getattr(args, flag), f"--{flag}")
    ca = None
    if args.ca:
        inputs.read_text(args.ca, "CA file")
        ca = str(args.ca)
    host, port = args.target
    timeout = args.timeout
    bounds = Bounds(step_s=max(3 * timeout, 5.0))
    tls = args.tls
    if tls == "auto":
        tls, port = S.resolve_tls(host, port, timeout, bounds)
    port = port or (990 if tls == "implicit" else 21)
    t = S.Target(
        host,
        port,
        tls,
        args.user,
        password,
        ca,
        args.verify_cert,
        args.tls_version,
        timeout,
        args.pasv_address,
        args.follow_foreign_pasv,
        args.transfers,
        args.write,
        args.download,
        bounds,
    )
    report = probe(
        t, Options(args.mode, args.fail_on, args.bounce_target, "python -m harness " + shlex.join(sys.argv[1:]))
    )
    if args.json:  # files first: a closed terminal pipe (| head) must not lose them
        render.write_json(args.json, report)
    if args.markdown:
        args.markdown.write_text(render.markdown(report))
    if args.html:
        args.html.write_text(render.page(report))
    render.terminal(report, console, args.verbose)
    return EXIT_OK if report.outcome == "pass" else EXIT_FAIL
