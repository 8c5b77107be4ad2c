"""Observations to and from JSON, so checks can be replayed on recorded runs offline.

A recording holds the typed Observation with the Topology as it was built, so loading one
needs nothing but the file (not today's topology registry). The one place where recordings
are written and read; harness/codec.py does the field-by-field work.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.core import codec
from harness.observe.observation import Observation

SCHEMA = "ftps-harness/observation/2"


def to_json(obs: Observation) -> dict[str, Any]:
    return {"schema": SCHEMA, "observation": codec.encode(obs, Observation)}


def from_json(d: dict[str, Any]) -> Observation:
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        raise ValueError(f"not a recording in the format {SCHEMA} "
                         f"(schema: {d.get('schema') if isinstance(d, dict) else None!r})")
    return codec.decode(d["observation"], Observation)


def save(obs: Observation, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (obs.case.id.replace("/", "__") + ".json")
    path.write_text(json.dumps(to_json(obs), indent=1))
    return path


def load(path: Path) -> Observation:
    return from_json(json.loads(path.read_text()))
