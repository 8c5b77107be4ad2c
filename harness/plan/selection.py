"""Which cases a run plans: by id (`--case`, `--last-failed`), by pattern (`-k`), by shard.

A case id is the case: `topology/server/client/tls/mode/pasv-address/masq-X[/extras]`, so
`--case ID` rebuilds exactly that case, whatever the axes say.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import clients
import servers
from harness.build import topologies
from harness.build.topologies import Catalog
from harness.core import caseid
from harness.core.case import DATA_MODES, PASV_POLICIES, Case, ClientSpec, NetSpec, ServerSpec
from harness.core.program import command_line
from harness.core.tls import NAMES as TLS_MODES


class SelectionError(ValueError):
    """A case id, pattern or results file the operator gave is not usable (exit 2)."""


def parse_id(case_id: str, catalog: Catalog | None = topologies.SHIPPED) -> Case:
    """The Case whose `id` is `case_id`; SelectionError naming the bad part. Its topology must
    be one `catalog` has (None: any name, e.g. a results file's cases)."""
    parts = case_id.strip().split("/")
    if len(parts) < 7:
        raise SelectionError(
            f"case id {case_id!r}: expected topology/server/client/tls/mode/"
            "pasv-address/masq-on|masq-off[/extras], e.g. "
            "server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off"
        )
    topo, srv, cli, tls, mode, pol, masq, *extras = parts
    for what, value, valid in (
        ("topology", topo, _known(topo, catalog)),
        ("server", srv, servers.names()),
        ("client", cli, clients.names()),
        ("tls", tls, TLS_MODES),
        ("mode", mode, DATA_MODES),
        ("pasv-address", pol, (*PASV_POLICIES, "n-a")),
        ("masquerade", masq, ("masq-on", "masq-off")),
    ):
        if value not in valid:
            raise SelectionError(f"case id {case_id!r}: unknown {what} {value!r}; valid: {', '.join(valid)}")
    try:
        extra = caseid.read_extras(extras)
        case = Case(
            topo,
            ServerSpec(impl=srv, tls=tls, masquerade=masq == "masq-on", **extra["server"]),
            ClientSpec(impl=cli, mode=mode, pasv_address=None if pol == "n-a" else pol, **extra["client"]),
            NetSpec(**extra["net"]),
        )
    except ValueError as e:
        raise SelectionError(f"case id {case_id!r}: {e}") from None
    if case.id != case_id.strip():
        raise SelectionError(f"case id {case_id!r} is not in canonical form; did you mean {case.id!r}?")
    return case


def failed_ids(path: Path) -> list[str]:
    """Ids of the cases that failed or errored in a results.json, in its order."""
    doc = read_results(path)
    return [c["id"] for c in doc["cases"] if c.get("outcome") in ("fail", "error")]


def read_results(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as e:
        raise SelectionError(f"{path}: cannot read: {e.strerror}") from None
    except ValueError as e:
        raise SelectionError(f"{path}: not JSON: {e}") from None
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("cases"), list)
        or not all(isinstance(c, dict) and isinstance(c.get("id"), str) for c in doc["cases"])
    ):
        raise SelectionError(f"{path}: not a results.json written by ftps-harness (no cases list)")
    return doc


def matches(case_id: str, expr: str) -> bool:
    """-k: a glob if it has a wildcard, else a substring."""
    if any(ch in expr for ch in "*?["):
        return fnmatch.fnmatchcase(case_id, expr)
    return expr in case_id


def _known(name: str, catalog: Catalog | None) -> list[str]:
    """The topology names an id may carry: `name` itself when the catalog has it (or composes it)."""
    if catalog is None:
        return [name]
    try:
        catalog.get(name)
        return [name]
    except KeyError:
        return catalog.names()


def select(
    planned: list[Case],
    ids: Iterable[str] = (),
    patterns: Iterable[str] = (),
    catalog: Catalog = topologies.SHIPPED,
) -> list[Case]:
    """`ids` (if any) replace the planned cases; `patterns` (any of) filter what remains."""
    ids = list(dict.fromkeys(ids))
    cases = [parse_id(i, catalog) for i in ids] if ids else planned
    patterns = list(patterns)
    if patterns:
        cases = [c for c in cases if any(matches(c.id, p) for p in patterns)]
    return cases


def rerun_command(case: Case, extra: Sequence[str] = ()) -> str:
    """The one command line that re-runs exactly this case (`extra`: e.g. the --topology
    FILE its topology came from)."""
    return command_line(["matrix", *extra, "--case", case.id])
