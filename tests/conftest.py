"""Shared fixtures. Tests marked `netns` build real namespaces and need root."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root to build network namespaces")
    for item in items:
        if "netns" in item.keywords:
            item.add_marker(skip)


def harness(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run `python -m harness ARGS` as a user would."""
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, **kw)


def netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


@pytest.fixture
def matrix(tmp_path):
    """Run a matrix through the CLI; return {case id: case dict} from its JSON."""
    def run(*args: str) -> dict[str, dict]:
        out = tmp_path / "results.json"
        r = harness("matrix", "--json", str(out), *args)
        assert r.returncode == 0, r.stdout + r.stderr
        doc = json.loads(out.read_text())
        assert doc["schema"] == 1 and doc["backend"] == "netns"
        return {c["id"]: c for c in doc["cases"]}
    return run
