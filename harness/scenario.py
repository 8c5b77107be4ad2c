"""Scenario files: a customer's setup in a few lines of YAML, validated with precise errors.

    topology: server-nat                 # or {name: server-nat, helper: on, forward_range: none}
    server: {impl: vsftpd, tls: explicit, masquerade: off, passive_range: 50000-50100}
    clients: [{impl: curl}, {impl: ftplib, pasv_address: control}]
    modes: [pasv, epsv]
    expect: {outcome: fail, stage: data-connect}

Every error names the file, the key path and what was expected (ScenarioError -> exit 2).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import clients
import servers

from . import topologies
from .model import (DATA_MODES, OUTCOMES, PASV_POLICIES, STAGES, TLS_MODES, Case, NetSpec,
                     PassiveRange, Result)
from .runner import Axes, plan

ALG = {"server-nat": "server-nat-alg", "client-nat": "client-nat-alg"}
MATCH_KEYS = ("mode", "tls", "client", "server", "masquerade", "pasv_address", "topology")


class ScenarioError(Exception):
    """Bad scenario input; str() is the whole message for the operator."""


@dataclass
class Expectation:
    outcome: str | None = None
    stage: str | None = None
    check: str | None = None
    match: dict[str, str] = field(default_factory=dict)

    def applies(self, case: dict[str, Any]) -> bool:
        return all(str(case.get(k)) == v for k, v in self.match.items())

    def differs(self, r: Result) -> str | None:
        v = r.verdict
        got = f"{v.outcome}" + (f" at {v.stage}" if v.stage else "") + (f" ({v.check})" if v.check else "")
        for key, want, have in (("outcome", self.outcome, v.outcome), ("stage", self.stage, v.stage),
                                ("check", self.check, v.check)):
            if want is not None and want != have:
                return f"expected {key} {want}, got {got}"
        return None


@dataclass
class Scenario:
    path: Path
    story: str
    cases: list[Case]
    expectations: list[Expectation]
    waits_for: str | None = None  # a scenario that cannot run yet says what it waits for

    def check(self, results: list[Result]) -> list[tuple[Result, str]]:
        """(result, what differs) for every case whose reality differs from `expect`."""
        out = []
        for r in results:
            desc = r.case.describe()
            for e in reversed(self.expectations):  # later, more specific entries win
                if e.applies(desc):
                    why = e.differs(r)
                    if why:
                        out.append((r, why))
                    break
        return out


class Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, expected: str, got: Any = None) -> ScenarioError:
        tail = f", got {got!r}" if got is not None else ""
        return ScenarioError(f"{self.path}: {where}: expected {expected}{tail}")

    def mapping(self, value: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "a mapping", type(value).__name__)
        for k in value:
            if k not in keys:
                raise ScenarioError(f"{self.path}: {where}.{k}: unknown key; valid keys: {', '.join(keys)}")
        return value

    def choice(self, value: Any, where: str, valid: tuple[str, ...] | list[str]) -> str:
        if isinstance(value, bool):  # YAML 1.1 reads on/off/yes/no as booleans
            value = "on" if value else "off"
        if not isinstance(value, (str, int)) or str(value) not in valid:
            raise self.fail(where, f"one of {', '.join(valid)}", value)
        return str(value)

    def choices(self, value: Any, where: str, valid, default: tuple[str, ...]) -> tuple[str, ...]:
        if value is None:
            return default
        items = value if isinstance(value, list) else [value]
        if not items:
            raise self.fail(where, f"at least one of {', '.join(valid)}", value)
        return tuple(dict.fromkeys(self.choice(v, f"{where}[{i}]" if isinstance(value, list) else where, valid)
                                   for i, v in enumerate(items)))

    def range(self, value: Any, where: str, allow_none: bool = False) -> PassiveRange | str | None:
        if value is None:
            return None
        if allow_none and value in ("none", False):
            return "none"
        try:
            return PassiveRange.parse(str(value))
        except ValueError as e:
            raise self.fail(where, "a port range like 50000-50009" + (" or none" if allow_none else ""),
                            value) from e


def load(path: Path) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError with a precise message."""
    rd = Reader(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e.strerror}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ScenarioError(f"{path}:{at}: not valid YAML: {getattr(e, 'problem', e)}") from None
    story = "\n".join(l[1:].strip() for l in text.splitlines()[:3] if l.startswith("#"))
    doc = rd.mapping(doc, "(top level)", ("name", "topology", "server", "clients", "modes",
                                          "busy_sessions", "expect", "waits_for"))
    if doc.get("waits_for"):
        return Scenario(path, story, [], [], waits_for=str(doc["waits_for"]))
    for key in ("topology", "clients"):
        if key not in doc:
            raise ScenarioError(f"{path}: {key}: missing (required)")

    topo = doc["topology"]
    if isinstance(topo, str):
        topo = {"name": topo}
    topo = rd.mapping(topo, "topology", ("name", "helper", "forward_range"))
    name = rd.choice(topo.get("name"), "topology.name", topologies.names())
    if "helper" in topo:
        helper = rd.choice(topo["helper"], "topology.helper", ("on", "off"))
        base = next((k for k, v in ALG.items() if name in (k, v)), None)
        if base is None:
            raise ScenarioError(f"{path}: topology.helper: topology {name!r} has no FTP helper "
                                f"variant; those that do: {', '.join(ALG)}")
        name = ALG[base] if helper == "on" else base
    fwd = rd.range(topo.get("forward_range"), "topology.forward_range", allow_none=True)
    net = NetSpec(forward_range=fwd if isinstance(fwd, PassiveRange) else None, forward_none=fwd == "none")

    srv = rd.mapping(doc.get("server", {}), "server",
                     ("impl", "tls", "masquerade", "passive_range", "permit_foreign_addresses",
                      "session_reuse"))
    impl = rd.choice(srv.get("impl", "pyftpdlib"), "server.impl", servers.names())
    tls = rd.choices(srv.get("tls"), "server.tls", TLS_MODES, ("explicit",))
    masq = rd.choices(srv.get("masquerade"), "server.masquerade", ("on", "off"), ("off",))
    passive = rd.range(srv.get("passive_range"), "server.passive_range") or PassiveRange(50000, 50009)
    pf = rd.choices(srv.get("permit_foreign_addresses"), "server.permit_foreign_addresses",
                    ("on", "off"), ("off",))
    reuse = rd.choices(srv.get("session_reuse"), "server.session_reuse", ("default", "off"), ("default",))
    modes = rd.choices(doc.get("modes"), "modes", DATA_MODES, ("pasv", "epsv"))
    busy = doc.get("busy_sessions", 0)
    if not isinstance(busy, int) or isinstance(busy, bool) or not 0 <= busy <= 64:
        raise rd.fail("busy_sessions", "a whole number from 0 to 64", busy)

    entries = doc["clients"]
    if not isinstance(entries, list) or not entries:
        raise rd.fail("clients", "a list of at least one client, e.g. [{impl: curl}]", entries)
    cases: list[Case] = []
    for i, c in enumerate(entries):
        c = {"impl": c} if isinstance(c, str) else c
        c = rd.mapping(c, f"clients[{i}]", ("impl", "pasv_address", "label"))
        cli = rd.choice(c.get("impl"), f"clients[{i}].impl", clients.names())
        pol = rd.choices(c.get("pasv_address"), f"clients[{i}].pasv_address", PASV_POLICIES, ("trust",))
        axes = Axes(topologies=(name,), modes=modes, tls=tls, pasv_address=pol, masquerade=masq,
                    servers=(impl,), clients=(cli,), passive=passive, net=net, busy=busy,
                    permit_foreign=pf, reuse=reuse)
        cases += [k for k in plan(axes) if k.id not in {x.id for x in cases}]
    return Scenario(path, story, cases, _expect(rd, doc.get("expect")))


def _expect(rd: Reader, raw: Any) -> list[Expectation]:
    if raw is None:
        return []
    raw = rd.mapping(raw, "expect", ("outcome", "stage", "check", "cases"))
    out = []

    def one(d: dict[str, Any], where: str) -> Expectation:
        e = Expectation()
        if "outcome" in d:
            e.outcome = rd.choice(d["outcome"], f"{where}.outcome", OUTCOMES)
        if "stage" in d:
            e.stage = rd.choice(d["stage"], f"{where}.stage", STAGES)
        if "check" in d:
            if not isinstance(d["check"], str):
                raise rd.fail(f"{where}.check", "the name of a check, e.g. foreign-address", d["check"])
            e.check = d["check"]
        return e

    if any(k in raw for k in ("outcome", "stage", "check")):
        out.append(one(raw, "expect"))
    cases = raw.get("cases", [])
    if not isinstance(cases, list):
        raise rd.fail("expect.cases", "a list of {match: {...}, outcome: ...}", cases)
    for i, c in enumerate(cases):
        where = f"expect.cases[{i}]"
        c = rd.mapping(c, where, ("match", "outcome", "stage", "check"))
        e = one(c, where)
        match = rd.mapping(c.get("match", {}), f"{where}.match", MATCH_KEYS)
        e.match = {k: ("on" if v is True else "off" if v is False else str(v)) for k, v in match.items()}
        out.append(e)
    return out
