"""The JSON Schemas of the files an operator writes (scenario, plan and topology), for
editors: `python -m harness.schemas` writes them to schemas/."""

from __future__ import annotations

import json
from pathlib import Path

from harness.build import topology_file
from harness.core.repo import REPO
from harness.plan import spec
from harness.reproduce import scenario
from harness.verify import plan

NAMES = spec.Names(checks=scenario.NAMES.checks, layouts=plan.NAMES.layouts)


def texts() -> dict[str, str]:
    """File name -> the schema's text, as committed in schemas/."""
    out = spec.json_schemas(NAMES)
    schema = topology_file.TopologyFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "ftps-harness topology file"
    out["topology.schema.json"] = json.dumps(schema, indent=1, sort_keys=True) + "\n"
    return out


def write(folder: Path = REPO / "schemas") -> list[Path]:
    folder.mkdir(exist_ok=True)
    written = []
    for name, text in texts().items():
        (folder / name).write_text(text)
        written.append(folder / name)
    return written


if __name__ == "__main__":
    for p in write():
        print(f"wrote {p}")
