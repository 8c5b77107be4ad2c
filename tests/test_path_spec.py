"""The path parameters as data: scenario files, plans and the matrix flags (no network)."""

import pytest
from conftest import REPO, harness

from harness.build import topologies
from harness.core.case import NetSpec, PassiveRange, ServerSpec
from harness.core.repo import nat_file
from harness.plan import spec
from harness.reproduce import scenario


def test_path_scenarios_build_their_netspec():
    nets = {p.name[:2]: scenario.load(p).cases[0].net for p in sorted((REPO / "scenarios").glob("1[3-6]-*.yaml"))}
    assert (nets["13"].idle_timeout, nets["13"].rate) == (2, "3mbit")
    assert (nets["14"].mtu, nets["14"].icmp) == (1400, "drop")
    assert nets["15"].hairpin and nets["16"].port_map == PassiveRange(30000, 30009)


def test_the_firewall_carries_the_impairments_as_ruleset_files_and_link_mtus():
    topo = topologies.build(
        "server-nat", ServerSpec(), NetSpec(mtu=1400, icmp="drop", idle_timeout=2, port_map=PassiveRange(30000, 30009))
    )
    text = topo.host("fw").ruleset.render(nat_file)
    assert "established: 2 }" in text and "frag-needed" in text and "30003 : 50003" in text
    assert {p.mtu for link in topo.links for p in (link.a, link.b) if p.host == "fw"} == {1400}
    assert {p.mtu for link in topo.links for p in (link.a, link.b) if p.host != "fw"} == {0}


def test_hairpin_and_port_maps_are_refused_where_no_topology_builds_them():
    with pytest.raises(ValueError, match="server-nat only"):
        topologies.build("direct", ServerSpec(), NetSpec(hairpin=True))


def test_plan_path_and_keepalive(tmp_path):
    (tmp_path / "p.yaml").write_text(
        "ruleset: r.nft\npath: {mtu: 1400, rate: 3mbit}\nclients: [{impl: curl, keepalive: 1}]\n"
    )
    doc, _ = spec.load(tmp_path / "p.yaml", "plan", spec.Names(layouts=("server-nat",)))
    assert (doc.path.mtu, doc.path.rate, doc.clients[0].keepalive) == (1400, "3mbit", 1)


@pytest.mark.parametrize("args", [("--mtu", "20"), ("--rate", "fast"), ("--idle-timeout", "0"), ("--port-map", "9-1")])
def test_bad_path_flags_are_usage_errors(args):
    r = harness("matrix", *args, timeout=60)
    assert r.returncode == 2 and args[0] in r.stderr


@pytest.mark.parametrize(
    "case_id",
    [
        "server-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on/mtu-1400/icmp-drop/mss-clamp",
        "server-nat/pyftpdlib/curl/explicit/epsv/n-a/masq-on/keepalive-1/idle-2s/rate-3mbit",
        "server-nat/pyftpdlib/ftplib/none/pasv/control/masq-off/map-30000-30009",
        "server-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on/hairpin/hairpin-nat",
    ],
)
def test_path_case_ids_parse_back(case_id):
    from harness.plan.selection import parse_id

    assert parse_id(case_id).id == case_id


@pytest.mark.parametrize("part", ["mtu-20", "idle-xs", "rate-fast", "map-9-1", "icmp-pass"])
def test_bad_path_id_parts_are_named(part):
    from harness.plan.selection import SelectionError, parse_id

    with pytest.raises(SelectionError, match=r"unknown part|must|reversed"):
        parse_id(f"server-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-on/{part}")
