"""The matrix grid shared by every report: one column per data mode (and PASV policy), one
row per combination of the other axes. Every axis that varies in a run is a row key, so a
cell never holds two cases."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness.core.case import Case
from harness.judge.verdict import Result

# (header, value) of each row axis, in display order. topology, tls and masq always show.
AXES: tuple[tuple[str, Callable[[Case], str]], ...] = (
    ("topology", lambda c: c.lab),  # "server-nat ipv6": the family shows with the topology
    ("server", lambda c: c.server.impl),
    ("client", lambda c: c.client.impl),
    ("tls", lambda c: c.server.tls),
    ("masq", lambda c: "on" if c.server.masquerade else "off"),
    ("foreign", lambda c: "permit" if c.server.permit_foreign else "refuse"),
    ("reuse", lambda c: c.server.reuse),
    ("range", lambda c: str(c.server.passive)),
    ("fwd", lambda c: "none" if c.net.forward_none else str(c.net.forwarded(c.server))),
    ("busy", lambda c: str(c.client.busy)),
    ("tls-ver", lambda c: c.client.tls_version),
    ("transfers", lambda c: str(c.client.transfers)),
    ("verify", lambda c: c.client.verify_cert),
    ("path", lambda c: " ".join(c.net.path_parts()) or "-"),  # path impairments (docs/path.md)
    ("keepalive", lambda c: f"{c.client.keepalive}s" if c.client.keepalive else "-"),
)
ALWAYS = ("topology", "tls", "masq")
TOGETHER = (("server", "client"),)  # shown as a pair when either varies


def column(r: Result) -> str:
    c = r.case.client
    return c.mode if c.pasv_address is None else f"{c.mode}/{c.pasv_address}"


@dataclass
class Grid:
    headers: list[str]  # the row axes shown
    columns: list[str]
    rows: dict[tuple[str, ...], dict[str, Result]]

    def row_key(self, r: Result) -> tuple[str, ...]:
        return tuple(dict(AXES)[h](r.case) for h in self.headers)


def row_axes(results: list[Result]) -> list[str]:
    varies = {h for h, get in AXES if len({get(r.case) for r in results}) > 1}
    for group in TOGETHER:
        if varies & set(group):
            varies |= set(group)
    return [h for h, _ in AXES if h in ALWAYS or h in varies]


def build(results: list[Result]) -> Grid:
    g = Grid(row_axes(results), [], {})
    for r in results:
        col = column(r)
        if col not in g.columns:
            g.columns.append(col)
        cells = g.rows.setdefault(g.row_key(r), {})
        if col in cells and cells[col].case.id != r.case.id:
            raise AssertionError(f"two cases in one cell: {cells[col].case.id} and {r.case.id}")
        cells[col] = r
    return g
