"""Topologies on the command line: `--topology NAME|A+B|FILE` for every command, and the
`topology show|check` command (docs/topology-files.md)."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from harness.build import topologies
from harness.build.backends import Backend
from harness.build.backends import get as get_backend
from harness.build.topologies import Catalog, TopologyKind
from harness.core.case import NetSpec, ServerSpec
from harness.core.repo import nat_file
from harness.core.yamlfile import SpecError


class UnknownTopology(ValueError):
    """A --topology value that is neither a topology, two composed, nor a readable file."""


def is_file(item: str) -> bool:
    return item.endswith((".yaml", ".yml")) or Path(item).is_file()


def resolve(items: Sequence[str], catalog: Catalog = topologies.SHIPPED) -> tuple[Catalog, tuple[str, ...]]:
    """The catalog holding every topology `items` name, and their names in order. A file
    that does not fit the schema raises SpecError (exit 2)."""
    names = []
    for item in items:
        if is_file(item):
            kind = topologies.read(Path(item))
            catalog = catalog.plus(kind)
            names.append(kind.name)
            continue
        try:
            catalog.get(item)
        except KeyError as e:
            raise UnknownTopology(str(e).strip("\"'")) from None
        names.append(item)
    return catalog, tuple(dict.fromkeys(names))


def preflight(catalog: Catalog, names: Sequence[str], backend: Backend) -> None:
    """Every ruleset of a topology from a file loads (nft's or iptables-restore's own words,
    naming the box and the file's line, exit 2), before any lab is built."""
    for name in names:
        kind = catalog.get(name)
        if kind.source is None or name in topologies.REGISTRY:
            continue
        topo = catalog.build(name, ServerSpec(), NetSpec())
        for box in topo.middleboxes:
            if box.ruleset is None:
                continue
            lines = box.ruleset.render_lines(nat_file)
            try:
                backend.inspect_ruleset("\n".join(line for line, _ in lines), box.ruleset.loader)
            except ValueError as e:
                raise SpecError(
                    f"{kind.source.path}: box {box.name}: its ruleset does not load:\n" + _located(str(e), lines)
                ) from None


_NFT_AT = re.compile(r"^(?:/dev/stdin|stdin|-):(\d+):[\d-]+: (Error: .*)$")
_IPT_AT = re.compile(r"^(iptables[\w-]*restore\S*): line (\d+) failed")


def _located(message: str, lines: list[tuple[str, str | None]]) -> str:
    """nft's (or iptables-restore's) errors, each at the file and line it came from; no file's
    contents are echoed."""

    def at(n: int) -> str:
        origin = lines[n - 1][1] if 0 < n <= len(lines) else None
        return origin or f"line {n} of the rendered ruleset (the harness's variables)"

    out = []
    for line in message.splitlines():
        if m := _NFT_AT.match(line):
            out.append(f"{at(int(m.group(1)))}: {m.group(2)}")
        elif m := _IPT_AT.match(line):
            out.append(f"{at(int(m.group(2)))}: {m.group(1)} failed here")
        elif line.startswith("Error: "):
            out.append(line.strip())
    return "\n".join(out) or "the ruleset did not load (no located error message)"


def rerun_args(catalog: Catalog, topology: str) -> list[str]:
    """The --topology a printed command line needs to find `topology` again (a file's)."""
    try:
        kind = catalog.get(topology)
    except KeyError:
        return []
    if kind.source is None or topology in topologies.REGISTRY or "+" in topology:
        return []
    return ["--topology", os.path.relpath(kind.source.path)]


def add(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    t = sub.add_parser(
        "topology",
        help="show a topology (its picture, boxes and rulesets), or check a topology file",
        description="Topologies are YAML files (docs/topology-files.md): the shipped ones in topologies/, "
        "or your own. `show` prints one as the harness would build it; `check` validates a file, "
        "loads every box's ruleset and builds the lab once.",
    )
    verbs = t.add_subparsers(dest="verb", metavar="VERB", required=True)
    s = verbs.add_parser("show", help="the picture, the boxes and their rulesets, as loaded")
    s.add_argument("topology", metavar="NAME|A+B|FILE")
    s.add_argument("--family", choices=("ipv4", "ipv6"), default="ipv4")
    c = verbs.add_parser("check", help="validate a topology file, load its rulesets and build it once")
    c.add_argument("topology", metavar="FILE")
    c.add_argument("--backend", default="netns")


def run(args: argparse.Namespace, console: Console) -> int:
    catalog, (name,) = resolve([args.topology])
    if args.verb == "show":
        show(catalog.get(name), catalog, console, args.family)
        return 0
    backend = get_backend(args.backend)
    backend.preflight()
    preflight(catalog, [name], backend)
    topo = catalog.build(name, ServerSpec(), NetSpec())
    lab = backend.build(topo, f"fth-check{os.getpid()}-0")
    try:
        hosts = ", ".join(h.name for h in topo.hosts)
    finally:
        lab.teardown()
    boxes = [b.name for b in topo.middleboxes if b.ruleset]
    console.print(
        Text.assemble(
            ("ok: ", "bold green"),
            f"{args.topology} is the topology {name!r}: it validates, "
            + (f"the rulesets of {', '.join(boxes)} load, " if boxes else "")
            + f"and it builds ({hosts}).",
        )
    )
    return 0


def show(kind: TopologyKind, catalog: Catalog, console: Console, family: str = "ipv4") -> None:
    if family not in catalog.supported(kind.name):
        family = catalog.supported(kind.name)[0]
    topo = catalog.build(kind.name, ServerSpec(), NetSpec(family=family))
    source = f" ({kind.source.path})" if kind.source else ""
    console.print(Text(f"{kind.name}{source}: {kind.summary}", style="bold"))
    if topo.picture:
        console.print(Text(topo.picture.rstrip()), highlight=False)
    console.print(
        f"clients dial {topo.server_public}; client: {topo.client}; server(s): {', '.join(topo.servers)}; "
        f"families by default: {', '.join(catalog.families(kind.name))}"
    )
    for h in topo.hosts:
        addrs = ", ".join(f"{ifname} {cidr}" for ifname, cidr in topo.interfaces(h.name))
        console.print(f"  {h.name:12} {h.role:8} {addrs}")
    for box in topo.middleboxes:
        if box.ruleset:
            what = "its own host firewall" if box.role in ("client", "server") else "its ruleset"
            files = ", ".join(Path(f).name for f in box.ruleset.files)
            console.print(Text(f"\n# --- {box.name}: {what} ({files}), as loaded ---", style="bold"))
            console.print(Text(box.ruleset.render(nat_file)), highlight=False)
        if box.proxy:
            console.print(Text(f"\n# --- {box.name}: {box.proxy.kind} ({box.proxy.file}) ---", style="bold"))
            console.print(" ".join(f"{k}={v}" for k, v in box.proxy.env))
