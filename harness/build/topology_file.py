"""Topology files: a lab described in YAML (hosts, links, addresses, routes, and each box's
ruleset, proxy or translator), validated, and turned into a topology kind.

A file may `extend` another (its keys override, host by host), or `compose` a client-side
edge with a server-side edge into one path (`client-nat-alg+server-nat`). Relative paths
resolve from the file that names them. What depends on the case stays a parameter the
harness supplies: the server's passive range ($FORWARD_RANGE, $PASV_RANGE), the control
ports ($CONTROL_PORTS, $HELPER_PORTS), the FTP helper, the path conditions (MTU, ICMP, idle
timeout, rate) and the address family. Docs: docs/topology-files.md.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from harness.build.topology import (
    Bridge,
    Host,
    Link,
    Middlebox,
    PolicyRule,
    Port,
    Proxy,
    Route,
    RuleSet,
    Topology,
    Translator,
)
from harness.core import tls
from harness.core.case import NetSpec, ServerSpec
from harness.core.ports import PassiveRange
from harness.core.repo import NAT_DIR, TOPOLOGY_DIR
from harness.core.yamlfile import Source, SpecError, Strict

# The only addresses a lab may use: private space inside, documentation ranges as "public".
TEST_RANGES = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "fd00::/8", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
ROLES = ("client", "server", "host", "router", "firewall", "nat", "balancer", "translator", "switch")
FORWARDING = ("router", "firewall", "nat", "balancer", "translator")  # boxes that route between links
Family = Literal["ipv4", "ipv6"]


def _words(v: Any) -> Any:
    """A route may be written as "default via 10.0.2.1" or "10.9.0.0/16 via 10.0.2.1 table 101"."""
    if isinstance(v, str):
        w = v.split()
        if len(w) in (3, 5) and w[1] == "via" and (len(w) == 3 or w[3] == "table"):
            return {"to": w[0], "via": w[2], **({"table": w[4]} if len(w) == 5 else {})}
    return v


class RouteSpec(Strict):
    to: str  # "default" or a CIDR
    via: str
    table: int = 254


class PolicySpec(Strict):
    from_: str = Field(alias="from")  # packets from this address use `table`
    table: int


class RulesetSpec(Strict):
    files: Annotated[list[str], Field(min_length=1)]  # nftables or iptables-save, relative to this file
    variables: dict[str, str | int] = {}  # nft defines ($NAME), written above the files
    syntax: Literal["nft", "iptables"] | None = None  # default: from the first file's text
    helper: bool = False  # the harness attaches the conntrack FTP helper (a file that does it itself is seen)
    passive: Literal["forward"] | None = None  # this box forwards or opens the server's passive range
    passive_set: bool = False  # the harness defines @passive_ports (the range, or none) in table inet ftpfw
    files_when: dict[Literal["hairpin_nat"], list[str]] = {}  # files added when a network condition is on


class ProxySpec(Strict):
    config: str
    kind: str = "haproxy"
    variables: dict[str, str | int] = {}  # ${NAME} in the config; the harness adds PASV_FIRST, PASV_LAST


class TranslatorSpec(Strict):
    config: str
    tun: str
    variables: dict[str, str | int] = {}
    routes: list[str] = []  # into the tun device: the translated prefix and the address pool


class HostSpec(Strict):
    # host: an end that routes nothing (e.g. the internet beyond a firewall); switch: a bridge
    role: Literal["client", "server", "host", "router", "firewall", "nat", "balancer", "translator", "switch"]
    routes: list[Annotated[RouteSpec, BeforeValidator(_words)]] = []
    policy: list[PolicySpec] = []
    ruleset: RulesetSpec | None = None  # on a client or server host: its own host firewall
    proxy: ProxySpec | None = None
    translator: TranslatorSpec | None = None
    reset_per_case: bool = False  # fresh ruleset and proxy state before every case (balancing order)
    passive: Annotated[str, Field(pattern=r"^[0-9]+-[0-9]+$")] | None = None  # a server's own share of the range


class BridgeSpec(Strict):
    host: str
    name: str
    address: str = ""
    members: list[str]


class MasqueradeSpec(Strict):
    address: str | None = None  # what a server told to masquerade advertises (default: `dial`)
    map: dict[str, str] = {}  # per local address of the server


class PublishedSpec(Strict):
    """Ports the path publishes under other numbers than the server's own (a NodePort)."""

    control: dict[int, int] = {}  # the server's control port -> the port clients dial
    passive: Annotated[str, Field(pattern=r"^[0-9]+-[0-9]+$")] | None = None  # the passive range, as published


class PathSpec(Strict):
    """The path's conditions this network has (a matrix's --mtu etc. override them)."""

    mtu: Annotated[int, Field(ge=576, le=9000)] | None = None  # a tunnel in the path
    icmp: Literal["pass", "drop"] | None = None  # drop: fragmentation-needed / packet-too-big dropped
    idle_timeout: Annotated[int, Field(ge=1, le=3600)] | None = None  # seconds an idle connection is kept
    rate: Annotated[str, Field(pattern=r"^[0-9]+(kbit|mbit)$")] | None = None  # the client's link
    mss_clamp: bool | None = None  # the path's boxes clamp the TCP MSS

    def fill(self, net: NetSpec) -> NetSpec:
        """`net` with each condition it leaves at its default taken from the file."""
        d = NetSpec()
        return replace(
            net,
            mtu=net.mtu if net.mtu != d.mtu or self.mtu is None else self.mtu,
            icmp=net.icmp if net.icmp != d.icmp or self.icmp is None else self.icmp,
            idle_timeout=net.idle_timeout
            if net.idle_timeout != d.idle_timeout or not self.idle_timeout
            else self.idle_timeout,
            rate=net.rate if net.rate != d.rate or self.rate is None else self.rate,
            mss_clamp=net.mss_clamp or bool(self.mss_clamp),
        )


class TopologyFile(Strict):
    """A lab: its hosts, links and boxes (docs/topology-files.md)."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.+-]*$")]
    summary: str = ""
    order: int = 500  # position in listings and reports
    families: list[Family] = ["ipv4"]  # what a matrix runs it in when no --family is given
    default: bool = True  # the default matrix (no --topology) runs it
    picture: str = ""
    dial: str | None = None  # the address clients dial
    hosts: dict[str, HostSpec] = {}
    links: dict[str, Annotated[list[str], Field(min_length=2, max_length=2)]] = {}
    bridges: list[BridgeSpec] = []
    masquerade: MasqueradeSpec | None = None
    published: PublishedSpec | None = None  # ports published under other numbers (a NodePort)
    path: PathSpec | None = None  # conditions every case on this network runs with (docs/path.md)
    dual_stack: bool = False  # every host has both families; rulesets stay as written
    shared_home: bool = False  # the servers share one FTP home (replicas on a shared volume)
    edge: Literal["client", "server"] | None = None  # which side it is, to compose with another
    internet: str = "internet"  # the link an edge shares with the other side
    with_helper: str | None = None  # the topology that is this one with the FTP helper
    variants: dict[Literal["hairpin"], str] = {}  # a network condition that builds another file
    extends: str | None = None
    compose: list[str] | None = None  # [client-side edge, server-side edge]


@dataclass(frozen=True)
class Loaded:
    """A validated topology file, with its paths made absolute."""

    path: Path
    spec: TopologyFile


# --- reading ---------------------------------------------------------------------------


def _absolute(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Every file a topology names, made absolute from the folder of the file that names it."""

    def abs_(p: str) -> str:
        return str((base / p).resolve()) if not Path(p).is_absolute() else p

    out = dict(data)
    hosts = {}
    for name, h in (data.get("hosts") or {}).items():
        h = dict(h or {})
        if isinstance(h.get("ruleset"), dict):
            rs = dict(h["ruleset"])
            if isinstance(rs.get("files"), list):
                rs["files"] = [abs_(str(f)) for f in rs["files"]]
            if isinstance(rs.get("files_when"), dict):
                rs["files_when"] = {k: [abs_(str(f)) for f in v] for k, v in rs["files_when"].items()}
            h["ruleset"] = rs
        for key in ("proxy", "translator"):
            if isinstance(h.get(key), dict) and isinstance(h[key].get("config"), str):
                h[key] = {**h[key], "config": abs_(h[key]["config"])}
        hosts[name] = h
    if hosts:
        out["hosts"] = hosts
    for key in ("extends",):
        if isinstance(out.get(key), str) and out[key].endswith((".yaml", ".yml")):
            out[key] = abs_(out[key])
    if isinstance(out.get("variants"), dict):
        out["variants"] = {k: abs_(v) if str(v).endswith((".yaml", ".yml")) else v for k, v in out["variants"].items()}
    if isinstance(out.get("compose"), list):
        out["compose"] = [abs_(v) if str(v).endswith((".yaml", ".yml")) else v for v in out["compose"]]
    return out


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` on top of `base`: mappings merge key by key (hosts host by host), lists replace."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def read(path: Path, seen: tuple[Path, ...] = ()) -> Loaded:
    """Read, resolve `extends` and `compose`, validate. SpecError (exit 2) names the file, the
    line and the key path."""
    path = Path(path).resolve()
    if path in seen:
        raise SpecError(f"{path}: extends itself (through {' -> '.join(p.name for p in seen)})")
    src = Source(path, "topology file")
    if not isinstance(src.data, dict):
        raise src.error((), "expected a mapping of topology keys (name, hosts, links, ...)")
    data = _absolute(src.data, path.parent)
    if isinstance(data.get("extends"), str):
        parent = read(_locate(data["extends"], src, ("extends",)), (*seen, path))
        base = parent.spec.model_dump(by_alias=True, exclude_unset=True)
        base.pop("compose", None)
        data = _merge(base, {k: v for k, v in data.items() if k != "extends"})
    spec = src.validate(TopologyFile, data)
    assert isinstance(spec, TopologyFile)
    if spec.compose is not None:
        if len(spec.compose) != 2:
            raise src.error(("compose",), "expected two topologies: a client-side edge, then a server-side edge")
        sides = [read(_locate(name, src, ("compose", i)), (*seen, path)) for i, name in enumerate(spec.compose)]
        try:
            composed = compose_specs(sides[0], sides[1], spec.name)
        except ValueError as e:
            raise src.error(("compose",), str(e)) from None
        keep = spec.model_dump(include={"summary", "order", "families", "picture"}, exclude_unset=True)
        return Loaded(path, composed.model_copy(update=keep))
    _check(spec, src)
    return Loaded(path, spec)


def _locate(name: str, src: Source, at: tuple[Any, ...]) -> Path:
    """A topology a file refers to: a file path, or a shipped topology's name."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        if not p.exists():
            raise src.error(at, f"no such topology file {name}")
        return p
    shipped = TOPOLOGY_DIR / f"{name}.yaml"
    if not shipped.exists():
        known = ", ".join(sorted(f.stem for f in TOPOLOGY_DIR.glob("*.yaml")))
        raise src.error(at, f"no shipped topology {name!r}; shipped: {known}")
    return shipped


def _in_test_ranges(text: str) -> bool:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return True  # not an address: nothing to check
    return any(net.version == r.version and net.subnet_of(r) for r in TEST_RANGES)  # type: ignore[arg-type]


def _looks_like_address(text: str) -> bool:
    try:
        ipaddress.ip_network(str(text), strict=False)
        return True
    except ValueError:
        return False


def _check(spec: TopologyFile, src: Source) -> None:
    """What the schema cannot say: roles, link ends, addresses in the test ranges."""
    hosts = spec.hosts
    if not hosts:
        raise src.error(("hosts",), "missing (required): at least a client and a server")
    clients = [n for n, h in hosts.items() if h.role == "client"]
    if len(clients) != 1:
        raise src.error(("hosts",), f"expected exactly one host with role client, got {len(clients)}")
    if not any(h.role == "server" for h in hosts.values()):
        raise src.error(("hosts",), "expected at least one host with role server")
    if spec.dial is None:
        raise src.error(("dial",), "missing (required): the address clients dial")
    bad = [(at, text) for at, text in _addresses(spec) if not _in_test_ranges(text)]
    if bad:
        at, text = bad[0]
        raise src.error(
            at,
            f"{text} is outside the test ranges; a lab uses 10.0.0.0/8 and fd00::/8 inside and "
            "192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32 as public addresses",
        )
    ranges: list[tuple[tuple[str, ...], str | None]] = [
        (("published", "passive"), spec.published.passive if spec.published else None)
    ]
    ranges += [(("hosts", n, "passive"), h.passive) for n, h in hosts.items()]
    for where, given in ranges:
        try:
            PassiveRange.parse(given) if given else None
        except ValueError as e:
            raise src.error(where, str(e)) from None
    if any(h.passive and h.role != "server" for h in hosts.values()):
        name = next(n for n, h in hosts.items() if h.passive and h.role != "server")
        raise src.error(("hosts", name, "passive"), "only a server has a passive range of its own")
    for name, ends in spec.links.items():
        for i, end in enumerate(ends):
            host = end.split(":", 1)[0]
            if ":" not in end.split()[0] or host not in hosts:
                raise src.error(
                    ("links", name, i), f"expected 'host:interface [address/prefix ...]' naming a host, got {end!r}"
                )
    for i, b in enumerate(spec.bridges):
        if b.host not in hosts:
            raise src.error(("bridges", i, "host"), f"no host {b.host!r}")
    for name, h in hosts.items():
        if h.ruleset is not None:
            for j, f in enumerate(h.ruleset.files):
                if not Path(f).exists():
                    raise src.error(("hosts", name, "ruleset", "files", j), f"no such file {f}")
        for key, part in (("proxy", h.proxy), ("translator", h.translator)):
            if part is not None and not Path(part.config).exists():
                raise src.error(("hosts", name, key, "config"), f"no such file {part.config}")


def _addresses(spec: TopologyFile) -> list[tuple[tuple[Any, ...], str]]:
    """Every address a file writes, with its key path."""
    out: list[tuple[tuple[Any, ...], str]] = []
    if spec.dial:
        out.append((("dial",), spec.dial))
    for name, ends in spec.links.items():
        for i, end in enumerate(ends):
            out += [(("links", name, i), a) for a in end.split()[1:]]
    for i, b in enumerate(spec.bridges):
        if b.address:
            out.append((("bridges", i, "address"), b.address))
    for name, h in spec.hosts.items():
        for i, r in enumerate(h.routes):
            out.append((("hosts", name, "routes", i), r.via))
            if r.to != "default":
                out.append((("hosts", name, "routes", i), r.to))
        out += [(("hosts", name, "policy", i), p.from_) for i, p in enumerate(h.policy)]
        for part, key in ((h.ruleset, "ruleset"), (h.proxy, "proxy"), (h.translator, "translator")):
            for k, v in (part.variables if part else {}).items():
                if _looks_like_address(str(v)):
                    out.append((("hosts", name, key, "variables", k), str(v)))
        if h.translator:
            out += [(("hosts", name, "translator", "routes", i), r) for i, r in enumerate(h.translator.routes)]
    if spec.masquerade:
        if spec.masquerade.address:
            out.append((("masquerade", "address"), spec.masquerade.address))
        for k, v in spec.masquerade.map.items():
            out += [(("masquerade", "map", k), k), (("masquerade", "map", k), v)]
    return out


# --- building --------------------------------------------------------------------------


def _nat_name(path: str) -> str:
    """A ruleset file as RuleSet.files names it: relative to nat/ when it lives there."""
    p = Path(path)
    try:
        return str(p.relative_to(NAT_DIR))
    except ValueError:
        return str(p)


def nft_set(items: tuple[object, ...]) -> str:
    """An anonymous nft set: "{ 21, 990 }"."""
    return "{ " + ", ".join(map(str, items)) + " }"


def _syntax(rs: RulesetSpec) -> str:
    if rs.syntax:
        return rs.syntax
    first = Path(rs.files[0]).read_text(errors="replace").lstrip().splitlines()
    heads = [line.strip() for line in first if line.strip() and not line.startswith("#")]
    return "iptables" if heads and heads[0].startswith("*") else "nft"


_ATTACHES_HELPER = re.compile(r"ct helper set|--helper ftp\b|-j CT --helper")


def _own_helper(rs: RulesetSpec) -> bool:
    """The box's own files attach a conntrack helper."""
    return any(_ATTACHES_HELPER.search(Path(f).read_text(errors="replace")) for f in rs.files)


def ruleset(box: str, rs: RulesetSpec, server: ServerSpec, net: NetSpec) -> RuleSet:
    """The box's RuleSet for this case: its files and variables, and what the harness adds."""
    syntax = _syntax(rs)
    files = tuple(_nat_name(f) for f in rs.files)
    if syntax == "iptables":  # iptables-save has no variables: written for the lab as it is
        return RuleSet(box, files, (), helper=rs.helper or _own_helper(rs), forwards=None, syntax="iptables")
    opens = rs.passive == "forward"
    mapped = net.port_map is not None and opens and rs.passive_set  # the harness's port map goes with its set
    shipped = any(not Path(f).is_absolute() for f in files)  # the harness's own nat/ files
    d: dict[str, str] = {
        **({"OUTSIDE_IF": '"wan0"', "INSIDE_IF": '"lan0"'} if shipped else {}),
        "CONTROL_PORTS": nft_set(tls.CONTROL_PORTS),
        "FORWARD_RANGE": str(net.forwarded(server)),
    }
    given = {"FORWARDED_RANGE": str(net.forwarded(server)), "PASV_RANGE": str(server.passive)}
    d.update({k: _substitute(str(v), given) for k, v in rs.variables.items()})
    closed = net.forward_none or mapped
    if closed:
        del d["FORWARD_RANGE"]
    extra = tuple(_nat_name(f) for cond, fs in rs.files_when.items() if getattr(net, cond) for f in fs)
    head = ("passive-none.nft" if closed else "passive-forwarded.nft",) if rs.passive_set else ()
    out = head + files + extra
    if mapped:  # public ports -> the server's own, one to one
        pm = net.port_map
        assert pm is not None
        pairs = zip(range(pm.first, pm.last + 1), range(server.passive.first, server.passive.last + 1))
        d.update(PUBLIC_RANGE=str(pm), PORT_MAP="{ " + ", ".join(f"{a} : {b}" for a, b in pairs) + " }")
        out += ("port-map.nft",)
    if rs.helper:
        d["HELPER_PORTS"] = nft_set(tls.HELPER_PORTS)
        out += ("ftp-helper.nft",)
    forwards = ("" if net.forward_none else str(net.port_map or net.forwarded(server))) if opens else None
    return RuleSet(box, out, tuple(d.items()), helper=rs.helper or _own_helper(rs), forwards=forwards, syntax="nft")


def _substitute(text: str, given: dict[str, str]) -> str:
    """${NAME} in a variable's value: a parameter of the case (FORWARDED_RANGE, PASV_RANGE)."""
    for k, v in given.items():
        text = text.replace("${" + k + "}", v)
    return text


def _port(end: str) -> Port:
    head, *addresses = end.split()
    host, ifname = head.split(":", 1)
    return Port(host, ifname, addresses[0] if addresses else "", extra=tuple(addresses[1:]))


def build(loaded: Loaded, server: ServerSpec, net: NetSpec, variant: bool = False) -> Topology:
    """The Topology of this file for one case's server spec and network spec."""
    spec = loaded.spec
    if net.hairpin and not variant:
        if "hairpin" not in spec.variants:
            raise ValueError(f"hairpin is built by server-nat only, not by {spec.name}")
        return build(_variant(loaded.path, spec.variants["hairpin"]), server, net, variant=True)
    hosts: list[Host] = []
    rng = net.forwarded(server)
    for name, h in spec.hosts.items():
        routes = tuple(Route(r.to, r.via, r.table) for r in h.routes)
        policy = tuple(PolicyRule(p.from_, p.table) for p in h.policy)
        if h.ruleset is None and h.proxy is None and h.translator is None and h.role not in FORWARDING:
            hosts.append(Host(name, _host_role(h.role), routes, policy, _own_range(h)))
            continue
        proxy = None
        if h.proxy:
            env = {k: str(v) for k, v in h.proxy.variables.items()}
            env.setdefault("PASV_FIRST", str(rng.first))
            env.setdefault("PASV_LAST", str(rng.last))
            proxy = Proxy(_nat_name(h.proxy.config), _proxy_env(h.proxy, env), kind=h.proxy.kind)
        translator = None
        if h.translator:
            t = h.translator
            translator = Translator(
                _nat_name(t.config), t.tun, tuple((k, str(v)) for k, v in t.variables.items()), tuple(t.routes)
            )
        hosts.append(
            Middlebox(
                name,
                "router" if h.role in FORWARDING else h.role,
                routes,
                policy,
                _own_range(h),
                ruleset=ruleset(name, h.ruleset, server, net) if h.ruleset else None,
                proxy=proxy,
                translator=translator,
                fresh_per_case=h.reset_per_case,
            )
        )
    client = next(n for n, h in spec.hosts.items() if h.role == "client")
    servers = tuple(n for n, h in spec.hosts.items() if h.role == "server")
    assert spec.dial is not None
    fam = "ipv6" if ipaddress.ip_address(spec.dial).version == 6 else "ipv4"
    masq = spec.masquerade or MasqueradeSpec()
    pub = spec.published or PublishedSpec()
    return Topology(
        hosts=tuple(hosts),
        links=tuple(Link(name, _port(a), _port(b)) for name, (a, b) in spec.links.items()),
        client=client,
        servers=servers,
        server_public=spec.dial,
        picture=spec.picture,
        bridges=tuple(Bridge(b.host, b.name, b.address, tuple(b.members)) for b in spec.bridges),
        masquerade_address=masq.address or "",
        masquerade_map=tuple(masq.map.items()),
        family=fam,
        dual_stack=spec.dual_stack,
        shared_home=spec.shared_home,
        published_control=tuple(sorted(pub.control.items())),
        published_passive=PassiveRange.parse(pub.passive) if pub.passive else None,
    )


@functools.lru_cache(maxsize=32)
def _variant(path: Path, name: str) -> Loaded:
    """The file a network condition builds instead (read once)."""
    return read(_locate(name, Source(path, "topology file"), ("variants",)))


def _own_range(h: HostSpec) -> PassiveRange | None:
    return PassiveRange.parse(h.passive) if h.passive else None


def _host_role(role: str) -> str:
    return role if role in ("client", "server", "switch", "host") else "router"


def _proxy_env(p: ProxySpec, env: dict[str, str]) -> tuple[tuple[str, str], ...]:
    order = list(p.variables)
    # The harness's own variables go where the shipped configs expect them: after VIP.
    keys = order[:1] + [k for k in ("PASV_FIRST", "PASV_LAST") if k not in order] + order[1:]
    return tuple((k, env[k]) for k in keys if k in env)


def compose_specs(client_side: Loaded, server_side: Loaded, name: str) -> TopologyFile:
    """One path from a client-side edge and a server-side edge: the first file's client and
    its boxes, the second's server and its boxes, joined on their internet links. Boxes of the
    same name are told apart by the side they are on (fw -> fw-client, fw-server)."""
    a, b = client_side.spec, server_side.spec
    if a.edge != "client" or b.edge != "server":
        raise ValueError(
            f"{name}: compose a client-side edge with a server-side edge ({a.name} is "
            f"{a.edge or 'neither'}, {b.name} is {b.edge or 'neither'})"
        )
    far_a = {n for n, h in a.hosts.items() if h.role == "server"}
    far_b = {n for n, h in b.hosts.items() if h.role == "client"}
    keep_a = {n: h for n, h in a.hosts.items() if n not in far_a}
    keep_b = {n: h for n, h in b.hosts.items() if n not in far_b}
    clash = set(keep_a) & set(keep_b)
    rename_a = {n: (f"{n}-client" if n in clash else n) for n in keep_a}
    rename_b = {n: (f"{n}-server" if n in clash else n) for n in keep_b}

    def ends(spec: TopologyFile, names: dict[str, str]) -> dict[str, list[str]]:
        return {
            link: [_rename_end(e, names) for e in pair] for link, pair in spec.links.items() if link != spec.internet
        }

    def edge_end(spec: TopologyFile, names: dict[str, str], far: set[str]) -> str:
        pair = spec.links[spec.internet]
        return next(_rename_end(e, names) for e in pair if e.split(":", 1)[0] not in far)

    links = {**ends(a, rename_a), **ends(b, rename_b)}
    links["internet"] = [edge_end(a, rename_a, far_a), edge_end(b, rename_b, far_b)]
    hosts = {rename_a[n]: h for n, h in keep_a.items()} | {rename_b[n]: h for n, h in keep_b.items()}
    both = set(a.families) & set(b.families)
    return TopologyFile(
        name=name,
        summary=f"{a.summary}; {b.summary}",
        order=a.order * 100 + b.order,
        families=sorted(both) or ["ipv4"],
        picture=f"{a.name} on the client's side, {b.name} on the server's:\n\n{a.picture}\n{b.picture}",
        dial=b.dial,
        hosts=hosts,
        links=links,
        bridges=[replace_bridge(x, rename_a) for x in a.bridges] + [replace_bridge(x, rename_b) for x in b.bridges],
        masquerade=b.masquerade,
        published=b.published,
    )


def _rename_end(end: str, names: dict[str, str]) -> str:
    host, rest = end.split(":", 1)
    return f"{names.get(host, host)}:{rest}"


def replace_bridge(b: BridgeSpec, names: dict[str, str]) -> BridgeSpec:
    return b.model_copy(update={"host": names.get(b.host, b.host)})
