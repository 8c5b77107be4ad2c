"""Path impairment checks on recorded observations (real runs of the path scenarios).

Recorded with harness.run.execute.execute(..., record=DIR) on real namespaces; no network here."""

from pathlib import Path

from harness.judge import checks, fixes
from harness.judge.stages import place
from harness.observe import recording

FIX = Path(__file__).parent / "fixtures" / "observations"
IDLE = "server-nat__pyftpdlib__ftplib__explicit__epsv__n-a__masq-on__idle-2s__rate-3mbit.json"
PMTU = "server-nat__pyftpdlib__ftplib__explicit__epsv__n-a__masq-on__mtu-1400__icmp-drop.json"


def test_idle_timeout_is_named_from_the_conntrack_destroy_event():
    obs = recording.load(FIX / IDLE)
    v = checks.judge(obs)
    assert (v.outcome, v.stage, v.check) == ("fail", "completion", "control-idle-timeout")
    gone = v.evidence.conntrack_destroyed["fw"][-1]
    assert "[DESTROY]" in gone and "dport=21" in gone and gone in v.diagnosis
    assert v.evidence.firewall_dropped_forgotten["fw"] > 0


def test_completion_stage_data_done_but_no_final_reply():
    obs = recording.load(FIX / IDLE)
    assert place(obs.client, "explicit", obs.case.client.impl).stage == "completion"
    assert obs.client.data[-1].preliminary.startswith("1") and obs.client.data[-1].final is None


def test_pmtu_black_hole_names_the_rule_the_trace_saw_drop_the_icmp():
    obs = recording.load(FIX / PMTU)
    v = checks.judge(obs)
    assert (v.outcome, v.stage, v.check) == ("fail", "transfer", "pmtu-black-hole")
    (line, *_) = v.evidence.trace_dropped_icmp["fw"]
    assert line.startswith("output: 203.0.113.10 -> 203.0.113.100 dropped by path-icmp-drop.nft:11")
    assert "frag-needed" in v.diagnosis and "path-icmp-drop.nft:11" in v.diagnosis


def test_without_a_trace_the_icmp_counter_names_it():
    """The same recorded run as a backend without trace would have seen it."""
    from dataclasses import replace

    obs = recording.load(FIX / PMTU)
    untraced = {b: replace(v, traced=False, trace=()) for b, v in obs.middleboxes.items()}
    v = checks.judge(replace(obs, middleboxes=untraced))
    assert v.check == "pmtu-black-hole" and v.evidence.firewall_dropped_icmp["fw"] > 0


def test_fixes_offered_for_each_impairment():
    for name, want in (
        (IDLE, {"raise-idle-timeout", "control-keepalive"}),
        (PMTU, {"allow-icmp-frag-needed", "mss-clamp"}),
    ):
        obs = recording.load(FIX / name)
        got = {f.name for f, _ in fixes.candidates(obs.case, checks.judge(obs))}
        assert want <= got


HAIRPIN = "server-nat__pyftpdlib__ftplib__explicit__epsv__n-a__masq-on__hairpin.json"
MAPPED = "server-nat__pyftpdlib__ftplib__explicit__pasv__control__masq-off__map-30000-30009.json"


def test_hairpin_missing_is_named_from_the_trace_of_its_syn():
    v = checks.judge(recording.load(FIX / HAIRPIN))
    assert (v.outcome, v.stage, v.check) == ("fail", "connect", "hairpin-missing")
    assert "-> 203.0.113.10:21 left prerouting by (policy accept) (server-nat.nft:22)" in v.evidence.untranslated
    assert v.evidence.untranslated.endswith("went to fw's input hook")
    assert "10.0.2.100" in v.diagnosis


def test_passive_port_translated_names_the_public_port():
    obs = recording.load(FIX / MAPPED)
    v = checks.judge(obs)
    assert (v.outcome, v.stage, v.check) == ("fail", "data-connect", "passive-port-translated")
    port = obs.client.data[-1].advertised_port
    assert f"public port was {30000 + port - 50000}" in v.diagnosis
    assert f"-> 203.0.113.10:{port} left prerouting" in v.evidence.untranslated


def test_fixes_for_hairpin_and_port_map():
    for name, want in ((HAIRPIN, {"hairpin-nat"}), (MAPPED, {"same-port-numbers", "helper"})):
        obs = recording.load(FIX / name)
        assert want <= {f.name for f, _ in fixes.candidates(obs.case, checks.judge(obs))}


def test_derived_rules_render_the_clamp_first_in_forward():
    from harness.judge.rules import FirewallRules, Rule
    from harness.judge.rules.render import iptables, nft

    fw = FirewallRules("fw", "server-nat", [Rule("clamp", why="clamp"), Rule("filter", dports="21")])
    text = nft(fw)
    assert text.index("tcp option maxseg size set rt mtu") < text.index("ct state established,related accept")
    assert "-j TCPMSS --clamp-mss-to-pmtu" in iptables(fw)


CURL_IDLE = "server-nat__pyftpdlib__curl__explicit__epsv__n-a__masq-on__idle-2s__rate-3mbit.json"


def test_curl_upload_done_then_response_timeout_is_completion():
    """curl said 'We are completely uploaded and fine', then '(28) FTP response timeout'."""
    obs = recording.load(FIX / CURL_IDLE)
    assert obs.client.data[-1].done and obs.client.data[-1].final is None
    v = checks.judge(obs)
    assert (v.stage, v.check) == ("completion", "control-idle-timeout")
    assert "control-keepalive" in {f.name for f, _ in fixes.candidates(obs.case, v)}


def test_a_control_connection_destroyed_after_closing_is_no_idle_timeout():
    """The same recorded run, had conntrack destroyed the entry in TIME_WAIT (closed, not expired)."""
    from dataclasses import replace

    obs = recording.load(FIX / IDLE)
    closed = {
        b: replace(v, destroyed=tuple(e.replace("ESTABLISHED", "TIME_WAIT") for e in v.destroyed))
        for b, v in obs.middleboxes.items()
    }
    v = checks.judge(replace(obs, middleboxes=closed))
    assert v.check != "control-idle-timeout" and v.stage == "completion"


def test_without_a_trace_conntrack_shows_the_connection_ended_at_the_router():
    from dataclasses import replace

    obs = recording.load(FIX / HAIRPIN)
    untraced = {b: replace(v, traced=False, trace=()) for b, v in obs.middleboxes.items()}
    v = checks.judge(replace(obs, middleboxes=untraced))
    assert v.check == "hairpin-missing" and v.evidence.untranslated.startswith("conntrack: tcp 10.0.2.100:")
