"""The CI examples in docs/ci parse, and the make targets they call exist and take SHARD."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "docs" / "ci").glob("*.y*ml"))


def commands(doc: object) -> list[str]:
    """Every string in the document (the shell lines are among them)."""
    if isinstance(doc, dict):
        return [s for v in doc.values() for s in commands(v)]
    if isinstance(doc, list):
        return [s for v in doc for s in commands(v)]
    return [doc] if isinstance(doc, str) else []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_an_example_parses_and_its_make_targets_take_a_shard(path):
    text = "\n".join(commands(yaml.safe_load(path.read_text())))
    targets = set(re.findall(r"\bmake (test-matrix-peers)\b", text))
    assert targets == {"test-matrix-peers"}, "each example runs the peers matrices through make"
    assert "SHARD=" in text and "ftps-harness merge" in path.read_text()
    dry = subprocess.run(
        ["make", "-n", "--no-print-directory", "test-matrix-peers", "SHARD=3/4"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.count("--shard 3/4") == 2  # both matrices, the same part


def test_the_examples_are_debian_12_where_setup_runs():
    for path in EXAMPLES:
        text = path.read_text()
        assert "debian:12" in text or "debian12" in text, path.name
        assert "privileged" in text, path.name
