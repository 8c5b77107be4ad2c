"""Where the project's data folders are (the harness runs from its checkout)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NAT_DIR = REPO / "nat"
TOPOLOGY_DIR = REPO / "topologies"  # the shipped topology files


def nat_file(name: str) -> str:
    return (NAT_DIR / name).read_text()
