"""The one schema of scenario and plan files (pydantic), shared by `reproduce` and `verify`.

Every enum anywhere in a file is checked against the registries (topologies, servers,
clients, checks, verify's layouts). An error names the file, the line, the key path and the
valid choices. `python -m harness.schemas` writes the JSON Schemas to schemas/ for editors.
"""

from __future__ import annotations

import json
import types
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeAlias, cast, overload

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

import clients
import servers
from harness.build import topologies
from harness.core.case import DATA_MODES, ICMP_POLICIES, PASV_POLICIES
from harness.core.outcome import OUTCOMES, STAGES, Stage
from harness.core.outcome import Outcome as OutcomeLiteral  # the models have a class Outcome
from harness.core.ports import PassiveRange
from harness.core.tls import NAMES as TLS_MODES
from harness.core.tls import VERIFY
from harness.core.tls import VERSIONS as TLS_VERSIONS
from harness.core.yamlfile import Source, Strict

ON_OFF = ("on", "off")
REUSE = ("default", "off")


# --- value types ---------------------------------------------------------------


def _enum(values: Sequence[str]) -> Any:
    return Literal[tuple(values)]


def _list_of(item: Any) -> Any:
    """list[item] for a type made at run time (what list[...] returns; mypy reads list[...] as a static type)."""
    return types.GenericAlias(list, item)


def _on_off(v: Any) -> Any:
    return ("on" if v else "off") if isinstance(v, bool) else v  # YAML 1.1 reads on/off as booleans


def _one_or_many(v: Any) -> Any:
    return [_on_off(x) for x in v] if isinstance(v, list) else [_on_off(v)]


def choice(values: Sequence[str]) -> Any:
    return Annotated[_enum(values), BeforeValidator(_on_off)]


def is_file(v: str) -> bool:
    return v.endswith((".yaml", ".yml"))


def named_or_file(values: Sequence[str], what: str, compose: bool = True) -> Any:
    """One of `values`, two of them composed ("client-nat+server-nat"), or a topology file
    (a path ending in .yaml, relative to the file that names it)."""
    joined = ", two of them joined by +" if compose else ""

    def check(v: Any) -> Any:
        composed = compose and "+" in str(v) and all(x in values for x in str(v).split("+"))
        if isinstance(v, str) and (is_file(v) or v in values or composed):
            return v
        raise PydanticCustomError(
            "topology_name",
            "expected one of {valid}{joined}, or a topology file (.yaml), got {got}",
            {"valid": ", ".join(values), "joined": joined, "got": repr(v)},
        )

    schema = {"anyOf": [{"enum": list(values)}, {"type": "string", "pattern": r"(\+|\.ya?ml$)"}]}
    return Annotated[str, BeforeValidator(check), WithJsonSchema(schema), Field(description=what)]


def _text(v: Any) -> Any:
    return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v  # 1.3, 2


def number_choice(values: Sequence[str]) -> Any:
    """One of `values` written as a number or as text (a TLS version, a count)."""
    return Annotated[_enum(values), BeforeValidator(_text)]


def number_choices(values: Sequence[str]) -> Any:
    schema = {"anyOf": [{"enum": list(values)}, {"type": "array", "items": {"enum": list(values)}, "minItems": 1}]}
    return Annotated[
        _list_of(_enum(values)),
        BeforeValidator(lambda v: [_text(x) for x in v] if isinstance(v, list) else [_text(v)]),
        Field(min_length=1),
        WithJsonSchema(schema),
    ]


def choices(values: Sequence[str]) -> Any:
    """One value or a list of them (at least one)."""
    schema = {"anyOf": [{"enum": list(values)}, {"type": "array", "items": {"enum": list(values)}, "minItems": 1}]}
    return Annotated[
        _list_of(_enum(values)), BeforeValidator(_one_or_many), Field(min_length=1), WithJsonSchema(schema)
    ]


def _range(v: Any, allow_none: bool) -> Any:
    if v is None or isinstance(v, PassiveRange):
        return v
    if allow_none and v in ("none", False):
        return "none"
    like = "a port range like 50000-50009" + (" or none" if allow_none else "")
    try:
        return PassiveRange.parse(str(v))
    except ValueError as e:
        raise PydanticCustomError(
            "port_range", "expected {like}, got {got} ({why})", {"like": like, "got": repr(v), "why": str(e)}
        ) from None


PortRange = Annotated[
    Any, BeforeValidator(lambda v: _range(v, False)), WithJsonSchema({"type": "string", "pattern": r"^\d+-\d+$"})
]
ForwardRange = Annotated[
    Any,
    BeforeValidator(lambda v: _range(v, True)),
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": r"^\d+-\d+$"}, {"const": "none"}]}),
]


def _busy(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 64:
        raise PydanticCustomError("whole", "expected a whole number from 0 to 64, got {got}", {"got": repr(v)})
    return v


Busy = Annotated[int, BeforeValidator(_busy), WithJsonSchema({"type": "integer", "minimum": 0, "maximum": 64})]


def _transfers(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 10:
        raise PydanticCustomError("whole", "expected a whole number from 1 to 10, got {got}", {"got": repr(v)})
    return v


Transfers = Annotated[
    int, BeforeValidator(_transfers), WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 10})
]


def _impl_only(v: Any) -> Any:
    return {"impl": v} if isinstance(v, str) else v


def _name_only(v: Any) -> Any:
    return {"name": v} if isinstance(v, str) else v


# --- the models (built from the registries when first needed) --------------------


@dataclass(frozen=True)
class Names:
    """The choices a file may name that the steps above this one define: the checks (for a
    scenario's `expect: check:`) and verify's layouts (for a plan's `topology:`)."""

    checks: tuple[str, ...] = ()
    layouts: tuple[str, ...] = ()


# --- what reproduce and verify read from a validated file -------------------------


class ServerDoc(Protocol):
    impl: str
    tls: list[str] | None
    masquerade: list[str] | None
    passive_range: Any  # a PassiveRange, or None
    session_reuse: list[str] | None


class ScenarioServerDoc(ServerDoc, Protocol):
    permit_foreign_addresses: list[str] | None


class TopologyDoc(Protocol):
    name: str
    helper: list[str] | None
    forward_range: Any  # a PassiveRange, "none", or None
    mtu: int | None
    icmp: str | None
    idle_timeout: int | None
    rate: str | None
    mss_clamp: str | None
    port_map: Any  # a PassiveRange, or None
    hairpin: str | None
    hairpin_nat: str | None


class ScenarioClientDoc(Protocol):
    impl: str
    pasv_address: list[str] | None
    keepalive: int | None


class OutcomeDoc(Protocol):
    outcome: OutcomeLiteral | None
    stage: Stage | None
    check: str | None


class ExpectCaseDoc(OutcomeDoc, Protocol):
    @property
    def match(self) -> BaseModel: ...


class ExpectDoc(OutcomeDoc, Protocol):
    @property
    def cases(self) -> Sequence[ExpectCaseDoc]: ...


class ScenarioDoc(Protocol):
    waits_for: str | None
    modes: list[str] | None
    busy_sessions: int
    tls_version: list[str] | None
    transfers: int
    verify_cert: list[str] | None

    @property
    def topology(self) -> TopologyDoc: ...
    @property
    def server(self) -> ScenarioServerDoc: ...
    @property
    def clients(self) -> Sequence[ScenarioClientDoc]: ...
    @property
    def expect(self) -> ExpectDoc | None: ...


class PlanClientDoc(Protocol):
    impl: str
    modes: list[str] | None
    pasv_address: list[str] | None
    label: str | None
    keepalive: int | None


class PlanPathDoc(Protocol):
    mtu: int | None
    rate: str | None


class PlanDoc(Protocol):
    ruleset: str | None
    topology: str

    @property
    def path(self) -> PlanPathDoc: ...
    @property
    def server(self) -> ServerDoc: ...
    @property
    def clients(self) -> Sequence[PlanClientDoc]: ...


@lru_cache(maxsize=4)
def models(names: Names) -> dict[str, type[BaseModel]]:
    check_names = names.checks or ("",)
    # Each choice's values come from the registries (and `names`), known at run time only: there
    # it is a Literal of them (choice, number_choice) or a list of those (choices, number_choices);
    # to mypy, the type of its values.
    if TYPE_CHECKING:
        Client: TypeAlias = str
        ServerImpl: TypeAlias = str
        TopologyName: TypeAlias = str
        OnOff: TypeAlias = str
        OnOffs: TypeAlias = list[str]
        TlsMode: TypeAlias = str
        TlsModes: TypeAlias = list[str]
        Reuses: TypeAlias = list[str]
        IcmpPolicy: TypeAlias = str
        PasvPolicies: TypeAlias = list[str]
        PasvMatch: TypeAlias = str
        DataMode: TypeAlias = str
        DataModes: TypeAlias = list[str]
        TlsVersion: TypeAlias = str
        TlsVersions: TypeAlias = list[str]
        TransfersText: TypeAlias = str
        VerifyCert: TypeAlias = str
        VerifyCerts: TypeAlias = list[str]
        OutcomeChoice: TypeAlias = OutcomeLiteral
        StageChoice: TypeAlias = Stage
        CheckName: TypeAlias = str
        Layout: TypeAlias = str
    else:
        Client = choice(clients.names())
        ServerImpl = choice(servers.names())
        TopologyName = named_or_file(topologies.names(), "a shipped topology, A+B, or a topology file")
        OnOff = choice(ON_OFF)
        OnOffs = choices(ON_OFF)
        TlsMode = choice(TLS_MODES)
        TlsModes = choices(TLS_MODES)
        Reuses = choices(REUSE)
        IcmpPolicy = choice(ICMP_POLICIES)
        PasvPolicies = choices(PASV_POLICIES)
        PasvMatch = choice((*PASV_POLICIES, "n/a"))
        DataMode = choice(DATA_MODES)
        DataModes = choices(DATA_MODES)
        TlsVersion = number_choice(TLS_VERSIONS)
        TlsVersions = number_choices(TLS_VERSIONS)
        TransfersText = number_choice(tuple(str(n) for n in range(1, 11)))
        VerifyCert = choice(VERIFY)
        VerifyCerts = choices(VERIFY)
        OutcomeChoice = choice(OUTCOMES)
        StageChoice = choice(STAGES)
        CheckName = choice(check_names)
        Layout = named_or_file(
            names.layouts or ("server-nat",), "a layout, or a topology file whose boxes carry your rulesets", False
        )

    class Server(Strict):
        impl: ServerImpl = "pyftpdlib"
        tls: TlsModes | None = None  # default: explicit
        masquerade: OnOffs | None = None  # default: off (scenario), on (plan)
        passive_range: PortRange = None  # default: 50000-50009
        session_reuse: Reuses | None = None

    class ScenarioServer(Server):
        permit_foreign_addresses: OnOffs | None = None

    class Topology(Strict):
        name: TopologyName
        helper: OnOffs | None = None  # a list: each is tried (the ticket could not tell)
        forward_range: ForwardRange = None
        # path impairments (docs/path.md)
        mtu: Annotated[int, Field(ge=576, le=9000)] | None = None
        icmp: IcmpPolicy | None = None  # default: pass
        idle_timeout: Annotated[int, Field(ge=1, le=3600)] | None = None  # seconds
        rate: Annotated[str, Field(pattern=r"^[0-9]+(kbit|mbit)$")] | None = None
        mss_clamp: OnOff | None = None
        port_map: PortRange = None  # the public range the passive ports are published as
        hairpin: OnOff | None = None  # the client on the server's LAN (server-nat)
        hairpin_nat: OnOff | None = None

    class ScenarioClient(Strict):
        impl: Client
        pasv_address: PasvPolicies | None = None  # default: trust
        keepalive: Annotated[int, Field(ge=1, le=3600)] | None = None  # seconds
        label: str | None = None

    class Match(Strict):
        """Which cases an expectation is about; every value must be one the scenario runs."""

        mode: DataMode | None = None
        tls: TlsMode | None = None
        client: Client | None = None
        server: ServerImpl | None = None
        masquerade: OnOff | None = None
        pasv_address: PasvMatch | None = None
        topology: TopologyName | None = None
        tls_version: TlsVersion | None = None
        transfers: TransfersText | None = None
        verify_cert: VerifyCert | None = None

    class Outcome(Strict):
        outcome: OutcomeChoice | None = None
        stage: StageChoice | None = None
        check: CheckName | None = None

    class ExpectCase(Outcome):
        match: Match = Match()

    class Expect(Outcome):
        cases: list[ExpectCase] = []

    class Scenario(Strict):
        name: str | None = None
        waits_for: str | None = None
        topology: Annotated[Topology, BeforeValidator(_name_only)]
        server: ScenarioServer = ScenarioServer()
        clients: Annotated[list[Annotated[ScenarioClient, BeforeValidator(_impl_only)]], Field(min_length=1)]
        modes: DataModes | None = None  # default: pasv, epsv
        busy_sessions: Busy = 0
        tls_version: TlsVersions | None = None  # default: 1.3
        transfers: Transfers = 1
        verify_cert: VerifyCerts | None = None  # default: on
        expect: Expect | None = None

        @model_validator(mode="before")
        @classmethod
        def _waiting(cls, data: Any) -> Any:
            # A scenario that waits for a feature only has to say what it waits for.
            if isinstance(data, dict) and data.get("waits_for"):
                data = {"topology": "direct", "clients": [clients.names()[0]], **data}
            return data

    class PlanClient(Strict):
        impl: Client
        modes: DataModes | None = None  # default: pasv, epsv
        pasv_address: PasvPolicies | None = None  # default: control
        label: str | None = None
        keepalive: Annotated[int, Field(ge=1, le=3600)] | None = None  # seconds

    class PlanPath(Strict):
        """The path around the admin's firewall (ICMP, timeouts and clamping are in their ruleset)."""

        mtu: Annotated[int, Field(ge=576, le=9000)] | None = None
        rate: Annotated[str, Field(pattern=r"^[0-9]+(kbit|mbit)$")] | None = None

    class Plan(Strict):
        ruleset: str | None = None  # the admin's ruleset file, relative to the plan (with a layout)
        topology: Layout = "server-nat"  # a layout, or a topology file whose boxes carry the rulesets

        @model_validator(mode="after")
        def _ruleset_with_a_layout(self) -> Any:
            if not is_file(self.topology) and self.ruleset is None:
                raise PydanticCustomError("missing", "missing (required): the ruleset file, with a layout", {})
            if is_file(self.topology) and self.ruleset is not None:
                raise PydanticCustomError(
                    "ruleset_and_file", "give the rulesets in the topology file, on their boxes, not here", {}
                )
            return self

        path: PlanPath = PlanPath()
        server: Server = Server()
        clients: Annotated[list[Annotated[PlanClient, BeforeValidator(_impl_only)]], Field(min_length=1)]

    if TYPE_CHECKING:  # the models are what their readers take them for
        _scenario: type[ScenarioDoc] = Scenario
        _plan: type[PlanDoc] = Plan
    return {"scenario": Scenario, "plan": Plan}


def with_topology(doc: PlanDoc, topology: str) -> PlanDoc:
    """The plan with another topology (a file, relative to the plan's folder)."""
    assert isinstance(doc, BaseModel), "plans are the models' instances"
    out: PlanDoc = doc.model_copy(update={"topology": topology})
    return out


# --- reading a file ---------------------------------------------------------------


@overload
def load(path: Path, kind: Literal["scenario"], names: Names) -> tuple[ScenarioDoc, Source]: ...
@overload
def load(path: Path, kind: Literal["plan"], names: Names) -> tuple[PlanDoc, Source]: ...
def load(path: Path, kind: str, names: Names) -> tuple[ScenarioDoc | PlanDoc, Source]:
    """Read and validate a scenario ('scenario') or plan ('plan') file."""
    src = Source(path, f"{kind} file")
    # models() checks (for mypy) that its models are a ScenarioDoc and a PlanDoc
    return cast("ScenarioDoc | PlanDoc", src.validate(models(names)[kind])), src


# --- JSON Schema for editors ------------------------------------------------------


def json_schemas(names: Names) -> dict[str, str]:
    out = {}
    for kind, model in models(names).items():
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"ftps-harness {kind} file"
        out[f"{kind}.schema.json"] = json.dumps(schema, indent=1, sort_keys=True) + "\n"
    return out
