"""HAProxy (Debian's 2.6) in TCP mode: nat/lb-haproxy.cfg with its ${VARIABLES}."""

from __future__ import annotations

import re
from collections.abc import Sequence

from harness.build.proxies import ProxyAdapter, Relayed, register

# HAProxy's default TCP log line: "client:port -> vip:port => backend/server Tw/Tc/Tt bytes state"
_LOG = re.compile(r"(\S+):(\d+) -> (\S+):(\d+) => (\S+)/(\S+) \S+ \d+ (\S+)")


class HAProxy(ProxyAdapter):
    name = "haproxy"
    label = "HAProxy"

    def argv(self, config: str, env: Sequence[tuple[str, str]]) -> list[str]:
        return ["env", *(f"{k}={v}" for k, v in env), "haproxy", "-db", "-f", config]

    def listening(self, env: Sequence[tuple[str, str]]) -> tuple[str, int]:
        return dict(env).get("VIP", "").removeprefix("ipv6@"), 21

    def relayed(self, line: str) -> Relayed | None:
        m = _LOG.search(line)
        return Relayed(int(m.group(4)), m.group(6), m.group(7)) if m else None


register(HAProxy())
