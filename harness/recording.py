"""Observations to and from JSON, so checks can be replayed on recorded runs offline."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import topologies
from .model import Case, ClientSpec, NetSpec, Observation, PassiveRange, ServerSpec


def to_json(obs: Observation) -> dict[str, Any]:
    s, c = obs.case.server, obs.case.client
    return {
        "case": {"topology": obs.case.topology, "server": {"impl": s.impl, "tls": s.tls,
                 "passive": str(s.passive), "masquerade": s.masquerade,
                 "permit_foreign": s.permit_foreign, "reuse": s.reuse},
                 "client": {"impl": c.impl, "mode": c.mode, "pasv_address": c.pasv_address,
                            "busy": c.busy},
                 "net": {"forward_range": str(obs.case.net.forward_range or "") or None,
                         "forward_none": obs.case.net.forward_none, "family": obs.case.net.family}},
        "client": obs.client, "server_lines": obs.server_lines, "server_log": obs.server_log,
        "expectations": obs.expectations, "rejected": obs.rejected,
        "harness_error": obs.harness_error, "flows": obs.flows, "invalid": obs.invalid,
        "middlebox_log": obs.middlebox_log,
    }


def from_json(d: dict[str, Any]) -> Observation:
    s, c = d["case"]["server"], d["case"]["client"]
    server = ServerSpec(s["impl"], s["tls"], PassiveRange.parse(s["passive"]), s["masquerade"],
                        s.get("permit_foreign", False), s.get("reuse", "default"))
    fwd = d["case"].get("net", {}).get("forward_range")
    net = NetSpec(PassiveRange.parse(fwd) if fwd else None, d["case"].get("net", {}).get("forward_none", False),
                  d["case"].get("net", {}).get("family", "ipv4"))
    case = Case(d["case"]["topology"], server,
                ClientSpec(c["impl"], c["mode"], c["pasv_address"], c.get("busy", 0)), net)
    return Observation(case=case, topology=topologies.build(case.topology, server, net),
                       client=d["client"], server_lines=d["server_lines"],
                       server_log=d["server_log"], expectations=d["expectations"],
                       rejected=d["rejected"], harness_error=d.get("harness_error"),
                       flows=d.get("flows", {}), invalid=d.get("invalid", {}),
                       middlebox_log=d.get("middlebox_log", {}))


def save(obs: Observation, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (obs.case.id.replace("/", "__") + ".json")
    path.write_text(json.dumps(to_json(obs), indent=1))
    return path


def load(path: Path) -> Observation:
    return from_json(json.loads(path.read_text()))
