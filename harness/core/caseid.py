"""Case ids, both directions, from ONE table of id parts (a new axis adds one row here).

`topology/server/client/tls/mode/pasv-address/masq-on|masq-off[/extras]`: the seven head
parts always appear; an extra part appears only when its field differs from the default.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.core import family
from harness.core import tls as tlsmod
from harness.core.ports import PassiveRange

SPECS = ("server", "client", "net")

# how one extra part is written (field value -> token) and read back (token -> field value)
ShowRead = tuple[Callable[[Any], str | None], Callable[[str], Any]]


@dataclass(frozen=True)
class Part:
    """One extra id part: the spec field it carries and how it is written and read back."""

    spec: str  # server | client | net
    field: str
    show: Callable[[Any], str | None]  # field value -> token, None when it stays out of the id
    read: Callable[[str], Any]  # token -> field value, None when the token is not this part

    def token(self, spec: Any) -> str | None:
        """This part of the id of a case whose `self.spec` is `spec`: None at the default."""
        value = getattr(spec, self.field)
        return None if value == _default(spec, self.field) else self.show(value)


def _prefixed(prefix: str, parse: Callable[[str], Any]) -> ShowRead:
    """A `prefix-value` part (left out of the id at the field's default: see render)."""

    def show(v: Any) -> str | None:
        return None if v is None else f"{prefix}-{v}"

    def read(token: str) -> Any:
        head, _, val = token.partition("-")
        return parse(val) if head == prefix and val else None

    return show, read


def _digits(val: str) -> int | None:
    return int(val) if val.isdigit() else None


def _one_of(valid: tuple[str, ...]) -> Callable[[str], str | None]:
    return lambda val: val if val in valid else None


def _flag(token: str) -> ShowRead:
    return (lambda v: token if v else None), (lambda t: True if t == token else None)


def _part(spec: str, field: str, rw: ShowRead) -> Part:
    return Part(spec, field, *rw)


# the extra parts, in id order
EXTRAS: tuple[Part, ...] = (
    _part("server", "passive", _prefixed("range", PassiveRange.parse)),
    _part("server", "permit_foreign", _flag("permit-foreign")),
    _part("server", "reuse", _prefixed("reuse", _one_of(("off",)))),
    _part("net", "forward_range", _prefixed("fwd", lambda v: None if v == "none" else PassiveRange.parse(v))),
    _part("net", "forward_none", _flag("fwd-none")),
    _part("client", "busy", _prefixed("busy", _digits)),
    _part("client", "keepalive", _prefixed("keepalive", _digits)),
    # path impairments (docs/path.md)
    _part("net", "mtu", _prefixed("mtu", lambda v: int(v) if v.isdigit() and 576 <= int(v) <= 9000 else None)),
    _part("net", "icmp", _prefixed("icmp", _one_of(("drop",)))),
    _part(
        "net",
        "idle_timeout",
        (
            (lambda v: f"idle-{v}s" if v else None),
            (lambda t: int(t[5:-1]) if re.fullmatch(r"idle-[0-9]{1,4}s", t) and int(t[5:-1]) else None),
        ),
    ),
    _part("net", "rate", _prefixed("rate", lambda v: v if re.fullmatch(r"[0-9]{1,6}(kbit|mbit)", v) else None)),
    _part("net", "mss_clamp", _flag("mss-clamp")),
    _part("net", "port_map", _prefixed("map", PassiveRange.parse)),
    _part("net", "hairpin", _flag("hairpin")),
    _part("net", "hairpin_nat", _flag("hairpin-nat")),
    _part(
        "net",
        "family",
        (
            (lambda v: None if v == "ipv4" else v),  # IPv4 ids carry no family
            (lambda t: t if t in family.NAMES and t != "ipv4" else None),
        ),
    ),
    _part("client", "tls_version", _prefixed("tls", _one_of(tlsmod.VERSIONS))),
    _part("client", "transfers", _prefixed("transfers", _digits)),
    _part("client", "verify_cert", _prefixed("verify", _one_of(tlsmod.VERIFY))),
)


def _spec(case: Any, spec: str) -> Any:
    return case.server if spec == "server" else case.client if spec == "client" else case.net


def render(case: Any) -> str:
    """The id of a Case."""
    c, s = case.client, case.server
    parts = [
        case.topology,
        s.impl,
        c.impl,
        s.tls,
        c.mode,
        c.pasv_address or "n-a",
        "masq-on" if s.masquerade else "masq-off",
    ]
    for p in EXTRAS:
        token = p.token(_spec(case, p.spec))
        if token is not None:
            parts.append(token)
    return "/".join(parts)


def read_extras(tokens: list[str]) -> dict[str, dict[str, Any]]:
    """Spec keyword arguments per spec for the extra tokens; ValueError names an unknown one."""
    out: dict[str, dict[str, Any]] = {s: {} for s in SPECS}
    for token in tokens:
        for p in EXTRAS:
            value = p.read(token)
            if value is not None:
                out[p.spec][p.field] = value
                break
        else:
            raise ValueError(f"unknown part {token!r}")
    return out


PATH_FIELDS = ("mtu", "icmp", "idle_timeout", "rate", "mss_clamp", "port_map", "hairpin", "hairpin_nat")


def path_tokens(net: Any) -> list[str]:
    """The path impairments of a NetSpec as id parts (none: the id stays as it was)."""
    return [t for p in EXTRAS if p.spec == "net" and p.field in PATH_FIELDS for t in [p.token(net)] if t is not None]


def _default(spec: Any, name: str) -> Any:
    """The spec class's default for field `name` (an id leaves defaults out)."""
    f = next(f for f in dataclasses.fields(spec) if f.name == name)
    return f.default
