"""Observations to and from JSON, so checks can be replayed on recorded runs offline.

A recording holds the typed Observation with the Topology as it was built, so loading one
needs nothing but the file (not today's topology registry). The one place where recordings
are written and read; harness/core/codec.py does the field-by-field work.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness.core import codec
from harness.observe.observation import Observation

SCHEMA = "ftps-harness/observation/3"
OLDER = "ftps-harness/observation/2"  # read, and upgraded as it is read


def to_json(obs: Observation) -> dict[str, Any]:
    return {"schema": SCHEMA, "observation": codec.encode(obs, Observation)}


def from_json(d: dict[str, Any]) -> Observation:
    if isinstance(d, dict) and d.get("schema") == OLDER and isinstance(d.get("observation"), dict):
        d = {"schema": SCHEMA, "observation": _upgrade(d["observation"])}
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        raise ValueError(
            f"not a recording in the format {SCHEMA} (schema: {d.get('schema') if isinstance(d, dict) else None!r})"
        )
    obs: Observation = codec.decode(d["observation"], Observation)
    return obs


# Format 2 named the ftplib agent's steps after stages and kept a client's exit status in
# the shared vocabulary; format 3 keeps the facts (harness/observe/observation.py).
_EXIT_CODE = re.compile(r"^exit (-?\d+)$", re.M)


def _upgrade(obs: dict[str, Any]) -> dict[str, Any]:
    client = obs.get("client") or {}
    f = client.get("failure")
    if not f:
        return obs
    f = dict(f)
    f.pop("exit", None)
    codes = [int(c) for out in client.get("raw_output", []) for c in _EXIT_CODE.findall(out)]
    if codes and codes[-1] != 0:
        f["exit_code"] = codes[-1]
    if f.get("step"):
        f["step"] = _activity(f, client.get("connections", []))
    return {**obs, "client": {**client, "failure": f}}


def _activity(f: dict[str, Any], connections: list[dict[str, Any]]) -> str:
    step: str = f["step"]
    error: str = f.get("error", "")
    data = [c for c in connections if c.get("role") == "data"]
    if step == "data-connect":
        return "data-connect" if data and data[-1].get("result") not in (None, "ok") else "transfer-reply"
    if step == "data-setup":
        return "type" if "to TYPE" in error else "negotiate"
    if step == "transfer":
        return "data-transfer" if "data transfer" in error else "final-reply"
    if step == "tls-handshake" and "to AUTH" in error:
        return "auth-tls"
    return {"transfer-start": "transfer-reply", "integrity": "compare"}.get(step, step)


def save(obs: Observation, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (obs.case.id.replace("/", "__") + ".json")
    path.write_text(json.dumps(to_json(obs), indent=1))
    return path


def load(path: Path) -> Observation:
    return from_json(json.loads(path.read_text()))
