"""Shared fixtures. Tests marked `netns` build real namespaces and need root."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    no_docker = pytest.mark.skip(reason="Docker backend tests run under `make test-docker`")
    no_root = pytest.mark.skip(reason="needs root to build network namespaces")
    for item in items:
        if "docker" in item.keywords and os.environ.get("FTPS_HARNESS_TEST_DOCKER") != "1":
            item.add_marker(no_docker)
        elif "netns" in item.keywords and os.geteuid() != 0:
            item.add_marker(no_root)


def harness(*args: str, timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """Run `python -m harness ARGS` as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, **kw
    )


_PROFILE: list[str] = []  # this process's chromium profile (two chromiums cannot share one)


def chromium(*args: str, width: int = 1400, height: int = 900) -> subprocess.CompletedProcess:
    """Headless chromium on ARGS (a page to dump, print or shoot), bounded in time."""
    exe = shutil.which("chromium") or pytest.skip("chromium is installed by make setup")
    if not _PROFILE:
        _PROFILE.append(tempfile.mkdtemp(prefix="ftps-harness-chromium-"))
        atexit.register(shutil.rmtree, _PROFILE[0], True)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    flags += ["--allow-file-access-from-files", f"--user-data-dir={_PROFILE[0]}"]
    flags += [f"--window-size={width},{height}", "--virtual-time-budget=5000"]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120)


def netns_list() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def left_by(names: set[str]) -> set[str]:
    """The namespaces still present of the runs that `names` (fth-<run>-<n>-<host>) belong to;
    other engineers' runs on the same machine are not ours to judge."""
    runs = {n.split("-")[1] for n in names if n.startswith("fth-") and n.count("-") >= 3}
    return {n for n in netns_list() if n.startswith("fth-") and n.split("-")[1] in runs}


@pytest.fixture
def matrix(tmp_path):
    """Run a matrix through the CLI; return {case id: case dict} from its JSON. IPv4 unless
    the test asks for a --family."""

    def run(*args: str) -> dict[str, dict]:
        out = tmp_path / "results.json"
        fam = () if "--family" in args else ("--family", "ipv4")
        r = harness("matrix", "--json", str(out), *fam, *args)
        assert r.returncode == 0, r.stdout + r.stderr
        doc = json.loads(out.read_text())
        assert doc["schema"] == 1 and doc["backend"] == "netns"
        return {c["id"]: c for c in doc["cases"]}

    return run
