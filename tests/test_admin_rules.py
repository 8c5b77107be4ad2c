"""The admin's file as text (pure): syntax detection, where a rule goes, diffs that `patch -p0`
applies, and load errors that never echo a file's contents."""

import subprocess
from pathlib import Path

from harness.judge.rules import Rule
from harness.verify import admin_rules
from harness.verify.admin_rules import Chain

RULESETS = Path(__file__).parent / "rulesets"
FORWARD = Chain("inet", "filter", "forward", "forward", "drop")
PASSIVE = Rule("filter", iif="wan0", oif="lan0", daddr="10.0.2.2", dports="50000-50009")
LAB = {"OUTSIDE_IF": '"wan0"', "INSIDE_IF": '"lan0"', "SERVER_IP": "10.0.2.2", "PASV_RANGE": "50000-50009"}


def test_iptables_save_files_are_told_from_nft_by_content():
    assert admin_rules.syntax((RULESETS / "edge.ipt").read_text()) == admin_rules.IPTABLES
    assert admin_rules.syntax((RULESETS / "jump-chains.nft").read_text()) == admin_rules.NFT
    assert admin_rules.syntax((RULESETS / "iptables-nft-translated.nft").read_text()) == admin_rules.NFT


def test_a_rule_goes_at_the_top_of_the_chain_in_the_admins_variables():
    text = (RULESETS / "jump-chains.nft").read_text()
    line = admin_rules.nft_line(PASSIVE, LAB, text)
    assert line == "iifname $OUTSIDE_IF oifname $INSIDE_IF ip daddr $SERVER_IP tcp dport $PASV_RANGE accept"
    edit = admin_rules.insert_nft(text, FORWARD, [line], "allow passive")
    lines = edit.text.splitlines()
    at = lines.index("        " + line)
    assert "policy drop" in lines[at - 1] and "ct state established,related accept" in lines[at + 1]


def test_a_chain_written_as_commands_gets_an_insert_command():
    text = "add table inet t\nadd chain inet t forward { type filter hook forward priority 0; policy drop; }\n"
    edit = admin_rules.insert_nft(text, Chain("inet", "t", "forward", "forward"), ["tcp dport 1 accept"], "x")
    assert edit.text.endswith("insert rule inet t forward tcp dport 1 accept\n")


def test_iptables_lines_go_before_the_chains_first_rule_or_in_a_new_section(tmp_path):
    text = (RULESETS / "edge.ipt").read_text()
    edit = admin_rules.insert_iptables(text, "filter", "FORWARD", [admin_rules.ipt_line(PASSIVE, "FORWARD")], "x")
    lines = edit.text.splitlines()
    new = lines.index("-A FORWARD -i wan0 -o lan0 -d 10.0.2.2/32 -p tcp -m tcp --dport 50000:50009 -j ACCEPT")
    assert lines[new - 1] == ":OUTPUT ACCEPT [0:0]" and lines[new + 1].startswith("-A FORWARD -m conntrack")
    raw = admin_rules.insert_iptables(text, "raw", "PREROUTING", ["-A PREROUTING -j CT --helper ftp"], "h")
    assert raw.text.rstrip().endswith(
        "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -j CT --helper ftp\nCOMMIT"
    )


def test_the_diff_applies_with_patch_p0(tmp_path):
    original = (RULESETS / "jump-chains.nft").read_text()
    (tmp_path / "edge.nft").write_text(original)
    edit = admin_rules.add_table(original, "helper", admin_rules.helper_table())
    d = admin_rules.diff(original, edit.text, "edge.nft")
    r = subprocess.run(["patch", "-p0"], cwd=tmp_path, input=d, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "edge.nft").read_text() == edit.text


def test_relative_includes_are_made_absolute():
    text = 'include "secret.conf"\ninclude "/etc/x.nft"\n'
    assert (
        admin_rules.absolute_includes(text, Path("/srv/fw")) == 'include "/srv/fw/secret.conf"\ninclude "/etc/x.nft"\n'
    )


def test_load_errors_never_echo_a_line_of_any_file():
    # recorded from nft 1.0.6 on this machine (the ruleset came on stdin after 10 variable lines)
    message = (
        "In file included from /dev/stdin:11:1-31:\n"
        "/tmp/x/secret.conf:1:9-9: Error: syntax error, unexpected '=', expecting string\n"
        "password=hunter2\n"
        "        ^\n"
        "/dev/stdin:12:40-40: Error: syntax error, unexpected '}'\n"
        "table inet x { chain c { nonsense } }\n"
        "                                       ^\n"
    )
    out = admin_rules.load_error(message, Path("/srv/fw/edge.nft"), offset=10)
    assert "hunter2" not in out and "nonsense" not in out
    assert out.splitlines() == [
        "(included from edge.nft:1)",
        "secret.conf:1: error in an included file (its contents are not shown)",
        "edge.nft:2: Error: syntax error, unexpected '}'",
    ]


def test_with_a_trace_the_stop_is_quoted_and_its_chain_gets_the_rule():
    from harness.core.case import Case, ClientSpec, ServerSpec
    from harness.judge.verdict import Result, Verdict
    from harness.observe.trace import TracePath, TraceRule
    from harness.verify import advise

    by = TraceRule("inet", "filter", "from_internet", None, "policy drop", "drop")
    path = TracePath("fw", "1", "forward", "tcp", "203.0.113.100", 40000, "10.0.2.2", 50003, "syn", (by,), "drop", by)
    r = Result(
        Case("plan:x", ServerSpec(), ClientSpec()), Verdict("fail", "data-connect", "timed out"), 1.0, stops=[path]
    )
    from harness.verify.plan import AdminBox, Plan

    p = Plan(Path("p.yaml"), "", "plan:x", [], {"fw": AdminBox("fw", RULESETS / "jump-chains.nft", "")}, "server-nat")
    said, chains, traced = advise.stopped_at(r, p)
    assert traced and chains == [("fw", Chain("inet", "filter", "from_internet", "forward"))]
    assert said == [
        "fw dropped the SYN 203.0.113.100:40000 -> 10.0.2.2:50003 on forward in chain "
        "from_internet of table inet filter: (policy drop)"
    ]
    text = (RULESETS / "jump-chains.nft").read_text()
    edit = admin_rules.insert_nft(text, chains[0][1], ["tcp dport 50000-50009 accept"], "x")
    lines = edit.text.splitlines()
    assert lines[lines.index("    chain from_internet {") + 1] == "        tcp dport 50000-50009 accept"
