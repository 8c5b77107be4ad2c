"""TLS modes as values with capabilities, instead of names compared everywhere.

A mode says what it protects and what a firewall's FTP helper (which reads control lines)
can still see. Look one up with `mode(name)`; `ServerSpec.mode` does it for a case.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TlsMode:
    name: str
    summary: str
    control_tls: bool  # the control connection is encrypted (at least for the login)
    implicit: bool  # TLS starts before the greeting, on its own port
    data_protected: bool  # PROT P: every data connection is TLS
    clears_control: bool  # CCC after login: later control lines are in clear
    control_port: int = 21

    @property
    def helper_can_read_control(self) -> str:
        """When a conntrack FTP helper can read PASV/PORT lines: always, after-ccc or never."""
        if not self.control_tls:
            return "always"
        return "after-ccc" if self.clears_control else "never"

    @property
    def helper_blind(self) -> bool:
        return self.helper_can_read_control == "never"

    def __str__(self) -> str:
        return self.name


_MODES: dict[str, TlsMode] = {}


def _add(m: TlsMode) -> None:
    _MODES[m.name] = m


_add(TlsMode("none", "plain FTP", control_tls=False, implicit=False, data_protected=False, clears_control=False))
_add(
    TlsMode(
        "explicit",
        "AUTH TLS on port 21, PROT P",
        control_tls=True,
        implicit=False,
        data_protected=True,
        clears_control=False,
    )
)
_add(
    TlsMode(
        "implicit",
        "TLS from the first byte on port 990, PROT P",
        control_tls=True,
        implicit=True,
        data_protected=True,
        clears_control=False,
        control_port=990,
    )
)
_add(
    TlsMode(
        "ccc",
        "AUTH TLS for the login, then CCC (control in clear), data PROT P",
        control_tls=True,
        implicit=False,
        data_protected=True,
        clears_control=True,
    )
)

NAMES: tuple[str, ...] = tuple(_MODES)
DEFAULT_MATRIX: tuple[str, ...] = ("none", "explicit", "implicit")  # what `matrix` runs by default
# Where the control connection goes: 21 (plain, explicit TLS, CCC) or 990 (implicit TLS).
CONTROL_PORTS: tuple[int, ...] = tuple(sorted({m.control_port for m in _MODES.values()}))
# Where a conntrack FTP helper can read the control lines: never on the implicit-TLS port.
HELPER_PORTS: tuple[int, ...] = tuple(sorted({m.control_port for m in _MODES.values() if not m.implicit}))
VERSIONS: tuple[str, ...] = ("1.3", "1.2")  # the highest version the client offers
# How the client checks the server certificate: against the lab CA (on), not at all (off,
# curl -k), or against the system's CAs only, as a client never given the server's CA.
VERIFY: tuple[str, ...] = ("on", "off", "system")


def mode(name: str) -> TlsMode:
    try:
        return _MODES[name]
    except KeyError:
        raise KeyError(f"unknown TLS mode {name!r}; valid: {', '.join(NAMES)}") from None
