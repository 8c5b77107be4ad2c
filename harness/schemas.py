"""The JSON Schemas of the files an operator writes (scenario and plan), for editors:
`python -m harness.schemas` writes them to schemas/."""

from __future__ import annotations

from pathlib import Path

from harness.core.repo import REPO
from harness.plan import spec
from harness.reproduce import scenario
from harness.verify import plan

NAMES = spec.Names(checks=scenario.NAMES.checks, layouts=plan.NAMES.layouts)


def write(folder: Path = REPO / "schemas") -> list[Path]:
    folder.mkdir(exist_ok=True)
    written = []
    for name, text in spec.json_schemas(NAMES).items():
        (folder / name).write_text(text)
        written.append(folder / name)
    return written


if __name__ == "__main__":
    for p in write():
        print(f"wrote {p}")
