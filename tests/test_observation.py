"""The typed observation contract: recordings round-trip, carry their own Topology, and the
check table is explicit. No network."""

import json
from pathlib import Path

import pytest

from harness.build import topologies
from harness.build.topology import Topology
from harness.core import codec
from harness.core.case import ServerSpec
from harness.judge import checks
from harness.observe import recording

FIX = Path(__file__).parent / "fixtures" / "observations"
FILES = sorted(FIX.glob("*.json"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_recording_round_trips_unchanged(path):
    assert recording.to_json(recording.load(path)) == json.loads(path.read_text())


def test_a_recording_needs_no_topology_registry(monkeypatch):
    def gone(*a, **k):
        raise AssertionError("replaying a recording must not rebuild its topology")

    monkeypatch.setattr(topologies, "build", gone)
    obs = recording.load(FIX / "lb-roundrobin__pyftpdlib__ftplib__explicit__epsv__n-a__masq-on.json")
    assert obs.topology.name == "lb-roundrobin" and len(obs.topology.servers) == 2
    assert any(b.proxy for b in obs.topology.middleboxes)  # a Middlebox, not a plain Host
    assert checks.judge(obs).check == "balanced-to-another-backend"


@pytest.mark.parametrize("name", topologies.names())
def test_every_topology_survives_json(name):
    built = topologies.build(name, ServerSpec())
    again = codec.decode(json.loads(json.dumps(codec.encode(built, Topology))), Topology)
    assert again == built


def test_an_old_recording_is_refused_with_its_reason():
    with pytest.raises(ValueError, match="not a recording in the format"):
        recording.from_json({"case": {}, "client": {}})


def test_the_check_table_is_explicit_and_ends_with_the_catch_all():
    names = [c.name for c in checks.table()]
    assert len(names) == len(set(names))
    assert names[0] == "harness-error" and names[-1] == "other-failure"
    # a session that passed in a mode other than the one asked is no pass (IPv6: PASV -> EPSV)
    assert names[1] == "not-expressible"
    # CCC verdicts can be passes: they come before the plain pass
    assert names[2:5] == ["ccc-refused", "helper-reads-after-ccc", "passed"]
