"""Topology files: validation (exit 2 naming the file, the line and the key path), the shipped
files, extends and compose, path conditions. Builds are pure data; the e2e file runs them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import REPO, harness

from harness.build import topologies, topology_file
from harness.core.case import NetSpec, ServerSpec
from harness.core.yamlfile import SpecError
from harness.plan.axes import Axes, plan

EXAMPLES = REPO / "examples"
FIRST = """\
name: dc-port-forward
dial: 203.0.113.30
hosts:
  client: {role: client, routes: [default via 203.0.113.1]}
  edge:
    role: nat
    ruleset: {files: [edge.nft], passive: forward}
  server: {role: server, routes: [default via 10.20.0.1]}
links:
  internet: [client:eth0 203.0.113.1/24, edge:wan0 203.0.113.30/24]
  dc-lan: [edge:lan0 10.20.0.1/24, server:eth0 10.20.0.10/24]
"""
EDGE = "table inet edge { chain forward { type filter hook forward priority filter; policy accept; } }\n"


def _write(folder: Path, text: str = FIRST, name: str = "net.yaml") -> Path:
    (folder / "edge.nft").write_text(EDGE)
    path = folder / name
    path.write_text(text)
    return path


def _error(path: Path) -> str:
    with pytest.raises(SpecError) as e:
        topologies.read(path)
    return str(e.value)


def test_the_first_file_of_the_docs_reads_and_builds(tmp_path):
    kind = topologies.read(_write(tmp_path))
    topo = kind.build(ServerSpec(), NetSpec())
    assert (topo.client, topo.servers, topo.server_public) == ("client", ("server",), "203.0.113.30")
    edge = next(m for m in topo.middleboxes if m.name == "edge")
    assert edge.ruleset is not None and edge.ruleset.files == (str(tmp_path / "edge.nft"),)
    assert edge.ruleset.forwards == "50000-50009"  # passive: forward, the server's range


def test_a_typo_is_named_with_file_line_key_path_and_the_nearest_key(tmp_path):
    path = _write(tmp_path, FIRST.replace("  server: {role: server, routes:", "  server: {role: server, rotues:"))
    msg = _error(path)
    assert f"{path}, line 8: hosts.server.rotues: unknown key (did you mean routes?)" in msg


def test_a_typo_on_the_command_line_is_exit_2_without_a_traceback(tmp_path):
    path = _write(tmp_path, FIRST.replace("role: nat", "role: natt"))
    for args in (("topology", "check", str(path)), ("matrix", "--topology", str(path), "--list")):
        r = harness(*args, timeout=60)
        assert r.returncode == 2, r.stdout + r.stderr
        assert "hosts.edge.role: expected one of client, server, host, router" in " ".join(r.stderr.split())
        assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (("203.0.113.30/24]", "8.8.8.8/24]"), "links.internet[1]: 8.8.8.8/24 is outside the test ranges"),
        (("dial: 203.0.113.30\n", ""), "dial: missing (required): the address clients dial"),
        (("client: {role: client", "client: {role: server"), "expected exactly one host with role client, got 0"),
        (("edge:lan0 10.20.0.1/24", "fw:lan0 10.20.0.1/24"), "expected 'host:interface [address/prefix ...]'"),
        (("files: [edge.nft]", "files: [missing.nft]"), "hosts.edge.ruleset.files[0]: no such file"),
        (("dial: 203.0.113.30\n", "dial: 203.0.113.30\npublished: {passive: 50009-50000}\n"), "published.passive: "),
        (("role: nat\n", "role: nat\n    passive: 50000-50004\n"), "only a server has a passive range of its own"),
    ],
)
def test_what_the_schema_cannot_say_is_checked_too(tmp_path, change, said):
    msg = _error(_write(tmp_path, FIRST.replace(*change)))
    assert said in msg, msg


def test_published_ports_and_a_servers_own_range_reach_the_topology(tmp_path):
    text = FIRST.replace(
        "dial: 203.0.113.30\n", "dial: 203.0.113.30\npublished: {control: {21: 30021}, passive: 30100-30109}\n"
    )
    text = text.replace("server: {role: server,", "server: {role: server, passive: 50000-50004,")
    topo = topologies.read(_write(tmp_path, text)).build(ServerSpec(), NetSpec())
    assert (topo.dial_port(21), topo.dial_port(990)) == (30021, 990)  # what the client dials
    assert str(topo.published_passive) == "30100-30109"
    assert str(topo.host("server").passive) == "50000-50004"


def test_relative_paths_resolve_from_the_file_that_names_them(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    _write(sub)
    (tmp_path / "child.yaml").write_text("extends: sub/net.yaml\nname: child\nsummary: mine\n")
    kind = topologies.read(tmp_path / "child.yaml")
    edge = next(m for m in kind.build(ServerSpec(), NetSpec()).middleboxes if m.name == "edge")
    assert (kind.name, kind.summary) == ("child", "mine")
    assert edge.ruleset is not None and edge.ruleset.files == (str(sub / "edge.nft"),)


def test_extends_merges_host_by_host_and_refuses_a_loop(tmp_path):
    _write(tmp_path)
    (tmp_path / "b.yaml").write_text("extends: net.yaml\nname: b\nhosts: {edge: {role: firewall}}\n")
    kind = topologies.read(tmp_path / "b.yaml")
    assert kind.source is not None and kind.source.spec.hosts["edge"].ruleset is not None  # kept from the base
    (tmp_path / "loop.yaml").write_text("extends: loop.yaml\nname: loop\n")
    assert "extends itself" in _error(tmp_path / "loop.yaml")


def test_every_shipped_file_is_a_registered_topology_named_after_it():
    files = sorted(p.stem for p in (REPO / "topologies").glob("*.yaml") if not p.name.startswith("_"))
    assert files == sorted(topologies.names())
    assert "client-nat-alg+server-nat" in topologies.defaults() and "client-cgnat" not in topologies.defaults()


def test_composed_edges_keep_each_side_and_name_clashing_boxes_by_side():
    topo = topologies.build("client-nat-alg+server-nat", ServerSpec())
    assert [m.name for m in topo.middleboxes] == ["fw-client", "fw-server"]
    fw_client, fw_server = topo.middleboxes
    assert fw_client.ruleset and fw_client.ruleset.helper and fw_server.ruleset and not fw_server.ruleset.helper
    assert topo.server_public == "203.0.113.10" and topo.address_of(topo.client) == "10.0.1.2"
    assert topologies.SHIPPED.families("client-nat+server-nat") == ("ipv4", "ipv6")


def test_a_composition_needs_a_client_edge_then_a_server_edge():
    with pytest.raises(KeyError, match="compose a client-side edge with a server-side edge"):
        topologies.build("server-nat+client-nat", ServerSpec())


def test_carrier_grade_nat_is_two_masquerades_in_series():
    topo = topologies.build("client-cgnat", ServerSpec())
    assert [m.name for m in topo.middleboxes] == ["home", "cgn"]
    assert dict(topo.middleboxes[0].ruleset.defines)["PUBLIC_IP"] == "10.64.0.2"  # type: ignore[union-attr]


def test_path_conditions_in_a_file_are_the_cases_own_and_a_flag_overrides_them(tmp_path):
    path = _write(tmp_path, FIRST + "path: {mtu: 1400, icmp: drop}\n")
    catalog, kind = topologies.SHIPPED, topologies.read(path)
    catalog = catalog.plus(kind)
    axes = Axes(
        topologies=(kind.name,),
        modes=("epsv",),
        clients=("curl",),
        servers=("vsftpd",),
        tls=("explicit",),
        masquerade=("on",),
    )
    (case,) = plan(axes, catalog)
    assert (case.net.mtu, case.net.icmp) == (1400, "drop") and "mtu-1400" in case.id
    (flagged,) = plan(Axes(**{**axes.__dict__, "net": NetSpec(mtu=1280)}), catalog)
    assert (flagged.net.mtu, flagged.net.icmp) == (1280, "drop")


def test_path_conditions_stay_off_a_host_firewall_on_the_server():
    catalog = topologies.SHIPPED.plus(topologies.read(EXAMPLES / "cloud-path" / "topology.yaml"))
    topo = catalog.build("cloud-path", ServerSpec(), NetSpec(mtu=1400, icmp="drop"))
    mtus = {p.host: p.mtu for link in topo.links for p in (link.a, link.b)}
    assert mtus["edge"] == mtus["acl"] == 1400 and mtus["server"] == 0
    server = next(m for m in topo.middleboxes if m.name == "server")
    assert server.ruleset is not None and "path-icmp-drop.nft" not in server.ruleset.files


def test_a_ruleset_that_attaches_the_helper_itself_is_seen_as_one():
    topo = topologies.read(EXAMPLES / "cloud-path" / "topology.yaml").build(ServerSpec(), NetSpec())
    helpers = {m.name: bool(m.ruleset and m.ruleset.helper) for m in topo.middleboxes}
    assert helpers == {"acl": False, "edge": False, "server": True}


def test_the_three_examples_read_and_their_plans_load():
    from harness.plan import spec
    from harness.verify.plan import NAMES

    for name in ("office-to-datacenter", "cloud-path", "edge-haproxy-pair"):
        kind = topologies.read(EXAMPLES / name / "topology.yaml")
        assert kind.name == name
        doc, _ = spec.load(EXAMPLES / name / "plan.yaml", "plan", NAMES)
        assert doc.topology == "topology.yaml" and doc.ruleset is None


def test_an_ipv6_twin_exists_for_every_private_network_a_file_uses(tmp_path):
    catalog = topologies.SHIPPED.plus(topologies.read(_write(tmp_path)))
    topo = catalog.build("dc-port-forward", ServerSpec(), NetSpec(family="ipv6"))
    assert topo.server_public == "2001:db8:113::30"
    assert ("eth0", "fd14::10/64") in topo.interfaces("server")  # 10.20.0.0/24 <-> fd14:0::/64


def test_the_topology_schema_describes_every_key():
    schema = topology_file.TopologyFile.model_json_schema()
    assert {"name", "dial", "hosts", "links", "path", "compose", "extends"} <= set(schema["properties"])


def test_a_scenario_may_name_a_topology_file(tmp_path):
    from harness.reproduce import scenario

    _write(tmp_path)
    (tmp_path / "s.yaml").write_text(
        textwrap.dedent("""\
            topology: net.yaml
            server: {impl: vsftpd, tls: explicit}
            clients: [curl]
            modes: [epsv]
        """)
    )
    sc = scenario.load(tmp_path / "s.yaml")
    assert [c.id for c in sc.cases] == ["dc-port-forward/vsftpd/curl/explicit/epsv/n-a/masq-off"]
    assert sc.catalog.get("dc-port-forward").source is not None
    (tmp_path / "h.yaml").write_text("topology: {name: net.yaml, helper: on}\nclients: [curl]\n")
    with pytest.raises(SpecError, match=r"topology\.helper: a topology file says on its own boxes"):
        scenario.load(tmp_path / "h.yaml")
