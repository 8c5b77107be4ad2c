"""The path impairments on the command line (matrix): docs/path.md. Values are checked as
the scenario schema checks them (harness/plan/spec.py); a bad one is a usage error (exit 2)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import replace

from harness.core.case import ICMP_POLICIES, NetSpec, PassiveRange


def _bounded(flag: str, low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not re.fullmatch(r"[0-9]{1,5}", text.strip()) or not low <= int(text) <= high:
            raise argparse.ArgumentTypeError(f"{flag}: {text!r} is not a whole number from {low} to {high}")
        return int(text)

    return parse


def _rate(text: str) -> str:
    if not re.fullmatch(r"[0-9]{1,6}(kbit|mbit)", text.strip()):
        raise argparse.ArgumentTypeError(f"--rate: {text!r} must look like 3mbit or 512kbit")
    return text.strip()


def _port_map(text: str) -> PassiveRange:
    try:
        return PassiveRange.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--port-map: {e}") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("path impairments (docs/path.md)")
    g.add_argument(
        "--mtu",
        type=_bounded("--mtu", 576, 9000),
        default=0,
        help="the MTU of the firewall's interfaces (a tunnel in the path); hosts keep 1500",
    )
    g.add_argument(
        "--icmp",
        choices=ICMP_POLICIES,
        default="pass",
        help="drop: the firewall drops ICMP fragmentation-needed / packet-too-big",
    )
    g.add_argument(
        "--idle-timeout",
        type=_bounded("--idle-timeout", 1, 3600),
        default=0,
        metavar="S",
        help="the firewall forgets an idle control connection after S seconds (nft ct timeout)",
    )
    g.add_argument("--rate", type=_rate, default=None, help="bandwidth of the client's link (tbf), e.g. 3mbit")
    g.add_argument("--mss-clamp", action="store_true", help="the firewall clamps the TCP MSS to the route MTU")
    g.add_argument(
        "--port-map",
        type=_port_map,
        metavar="RANGE",
        help="the firewall publishes the passive ports as RANGE (server-nat)",
    )
    g.add_argument(
        "--hairpin",
        action="store_true",
        help="the client sits on the server's LAN and dials the public address (server-nat)",
    )
    g.add_argument("--hairpin-nat", action="store_true", help="the router hairpins inside clients")
    g.add_argument(
        "--keepalive",
        type=_bounded("--keepalive", 1, 3600),
        default=0,
        metavar="S",
        help="the client sends TCP keepalives on the control connection every S seconds",
    )


def netspec(args: argparse.Namespace, net: NetSpec) -> NetSpec:
    return replace(
        net,
        mtu=args.mtu,
        icmp=args.icmp,
        idle_timeout=args.idle_timeout,
        rate=args.rate or "",
        mss_clamp=args.mss_clamp,
        port_map=args.port_map,
        hairpin=args.hairpin,
        hairpin_nat=args.hairpin_nat,
    )
