"""Pure logic: the model, the plan, topology data and ruleset rendering."""

import pytest

from harness.build import topologies
from harness.core.case import Case, ClientSpec, PassiveRange, ServerSpec
from harness.core.repo import nat_file
from harness.plan.axes import Axes, plan


def test_passive_range_parses_and_rejects_nonsense():
    assert PassiveRange.parse("50000-50009") == PassiveRange(50000, 50009)
    assert 50005 in PassiveRange(50000, 50009) and 50010 not in PassiveRange(50000, 50009)
    for bad in ("50000", "a-b", "50009-50000", "80-90"):
        with pytest.raises(ValueError):
            PassiveRange.parse(bad)


def test_case_id_is_stable_and_readable():
    c = Case("server-nat", ServerSpec(tls="explicit", masquerade=True), ClientSpec(mode="pasv"))
    assert c.id == "server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-on"
    assert c.server.control_port == 21
    assert ServerSpec(tls="implicit").control_port == 990


def test_default_plan_covers_every_combination_once():
    cases = plan(Axes(topologies=tuple(topologies.names())))
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids))
    # IPv4 topologies x 3 tls x 2 masquerade x (pasv x 2 policies + epsv + port + eprt)
    ipv4 = [n for n in topologies.names() if "ipv4" in topologies.supported(n)]
    assert len(cases) == len(ipv4) * 3 * 2 * 5
    active = [c for c in cases if c.client.mode in ("port", "eprt", "epsv")]
    assert all(c.client.pasv_address is None for c in active)
    assert {c.client.pasv_address for c in cases if c.client.mode == "pasv"} == {"trust", "control"}


@pytest.mark.parametrize("name", topologies.names())
def test_topology_is_consistent_data(name):
    topo = topologies.build(name, ServerSpec())
    hosts = {h.name for h in topo.hosts}
    assert {topo.client, topo.server} <= hosts
    for link in topo.links:
        assert {link.a.host, link.b.host} <= hosts
    # A Service's ClusterIP is on no interface: kube-proxy's rules DNAT it (kube-clusterip*)
    assert topo.owner_of(topo.server_public) is not None or name.startswith("kube-clusterip")
    assert topo.middleboxes, "every topology has a firewall"


def test_ruleset_renders_defines_and_helper_only_for_alg():
    plain = topologies.build("server-nat", ServerSpec(passive=PassiveRange(50100, 50119)))
    alg = topologies.build("server-nat-alg", ServerSpec())
    text = plain.middleboxes[0].ruleset.render(nat_file)
    assert "define FORWARD_RANGE = 50100-50119" in text
    assert "ct helper" not in text
    text = alg.middleboxes[0].ruleset.render(nat_file)
    assert 'ct helper set "ftp-std"' in text and "define HELPER_PORTS = { 21 }" in text


def test_certs_made_concurrently_on_a_fresh_clone_still_match(tmp_path):
    """Two workers asking for certs at once once wrote a key and a certificate from
    different runs (`key values mismatch`): generation is now locked."""
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    import certs

    threads = [threading.Thread(target=certs.ensure, args=(tmp_path,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    key = serialization.load_pem_private_key((tmp_path / "server.key").read_bytes(), None)
    cert = x509.load_pem_x509_certificate((tmp_path / "server.pem").read_bytes())
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()


def test_core_and_dual_stack_topologies_run_both_families_by_default():
    from harness.plan.axes import Axes, plan

    cases = plan(Axes(topologies=("server-nat", "lb-source", "dual-stack-edge", "nat64"), families=None))
    fams = {(c.topology, c.net.family) for c in cases}
    assert fams == {
        ("server-nat", "ipv4"),
        ("server-nat", "ipv6"),
        ("lb-source", "ipv4"),
        ("dual-stack-edge", "ipv4"),
        ("dual-stack-edge", "ipv6"),
        ("nat64", "ipv6"),
    }
    ids = {c.id for c in cases}
    assert "server-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-off" in ids  # IPv4 ids unchanged
    assert "server-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-off/ipv6" in ids
