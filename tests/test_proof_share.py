"""Cases whose derived rules are identical share one proof replay (harness.judge.proof.share)."""

from harness.judge import proof
from harness.judge.rules import FirewallRules, Proof, Rule
from harness.judge.verdict import Verdict
from harness.report.results import parse_id


def _fw(dports="21", verified=True):
    return {
        "fw": FirewallRules(
            "fw", "server-nat", [Rule("filter", daddr="10.0.2.10", dports=dports)], Proof(verified=verified, replays=1)
        )
    }


A = parse_id("server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off")
B = parse_id("server-nat/pyftpdlib/curl/explicit/pasv/trust/masq-off")


def test_identical_rules_share_the_verified_proof_and_say_whose_it_is():
    proved: dict = {}
    first = _fw()
    assert not proof.share(proved, A, first, False)
    proof.remember(proved, A, first, False)
    second = _fw()
    assert proof.share(proved, B, second, False)
    p = second["fw"].proof
    assert p.verified and p.replays == 0 and p.shared_from == A.id


def test_different_rules_or_an_unverified_proof_are_replayed():
    proved: dict = {}
    proof.remember(proved, A, _fw(verified=False), False)
    assert not proof.share(proved, B, _fw(), False)
    proof.remember(proved, A, _fw(), False)
    assert not proof.share(proved, B, _fw(dports="50000-50009"), False)
    assert not proof.share(proved, B, _fw(), True)  # --prove-minimal proofs are kept apart


def test_a_private_source_is_kept_by_addressing_in_either_family():
    def snat(saddr):
        return Rule("snat", oif="wan0", saddr=saddr, to="masquerade")

    assert proof._private_source(snat("10.0.1.0/24")) and proof._private_source(snat("fd00:1::/64"))
    # the lab's client-side public range is "the internet", in IPv6 too (no TypeError)
    assert not proof._private_source(snat("203.0.113.100")) and not proof._private_source(snat("2001:db8:113::100"))


class Boxes:
    """Middleboxes as prove() uses them: what was loaded, and how."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def load(self, box, text):
        self.calls.append(("load", box))

    def load_alongside(self, box, text):
        self.calls.append(("alongside", box))
        assert text.startswith("# edge") and "table ip6 ftpfw_ipv6" in text

    def restore(self):
        self.calls.append(("restore", ""))


def test_rules_for_an_unfiltered_family_are_proven_next_to_the_boxs_own_ruleset():
    rule = Rule("filter", iif="wan0", saddr="2001:db8:5100::10", daddr="2001:db8:113::10", dports="21")
    derived = {
        "edge": FirewallRules("edge", "dual-stack-edge ipv6", [rule], family="ipv6", unfiltered=True),
        "fw": FirewallRules("fw", "dual-stack-edge ipv6", [rule], family="ipv6"),
    }
    boxes = Boxes()
    proof.prove(boxes, derived, minimal=False, replay=lambda: Verdict("pass", None, "ok"))
    assert boxes.calls == [("alongside", "edge"), ("load", "fw"), ("restore", "")]
    assert all(fw.proof.verified for fw in derived.values())
