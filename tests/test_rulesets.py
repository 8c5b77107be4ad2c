"""verify on rulesets written as admins write them (tests/rulesets/): each failing case's
stopping rule or policy (file:line where the file maps, else its handle) or NAT event is
named; where the file holds a rule meant for that traffic that did nothing, that rule is
named with why, and the change to that very rule is proven by re-run and comes first; the
smallest proven change, applied with `patch -p0` to a copy of the admin's file, makes the
plan pass when verify runs again.

Each entry says what real runs showed (2026-11-22, this machine) and what verify must say.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass

import pytest
from conftest import REPO

RULESETS = REPO / "tests" / "rulesets"


@dataclass(frozen=True)
class Seen:
    showed: str  # what real runs showed
    stopped: str | None = None  # the chain verify names (None: every case passes)
    added: str = ""  # a line the proven diff adds
    dropped: bool = True  # False: the trace showed every chain accepting (a server refused it)
    own: str = ""  # what verify says of the admin's own rule that did nothing ("your rule at FILE:LINE ...")
    mended: bool = True  # with `own`: the change to that rule was proven by re-run (and is the patch)


CORPUS = {
    "jump-chains": Seen(
        "forward jumps to from_internet, which accepts 21 and 22 only; the EPSV data connection "
        "returns to forward and meets its policy drop; allowing the passive range fixes it",
        "chain forward of table inet filter",
        "+        iifname $OUTSIDE_IF oifname $INSIDE_IF ip daddr $SERVER_IP tcp dport $PASV_RANGE accept",
    ),
    "goto-vmap": Seen(
        "ct state vmap, iifname vmap with goto, a named interval set and a dnat map: "
        "curl EPSV and ftplib PASV over explicit TLS both pass"
    ),
    "helper-by-jump": Seen(
        "the helper (attached in a chain reached by jump) opens plain EPSV data connections; with "
        "explicit TLS it cannot read the control channel and the data connection is refused; "
        "forwarding and allowing the passive range fixes it",
        "chain forward of table inet edge",
        "tcp dport 50000-50009 dnat ip to $SERVER_IP",
    ),
    "helper-port-2121": Seen(
        "the helper is attached to 2121 only; plain PASV on 21 gets the private address and times "
        "out; the conntrack entry of the control connection has no helper; adding 21 to the "
        "admin's own helper rule fixes it (so does a helper table of its own)",
        "chain forward of table ip edge",
        '+        tcp dport { 21, 2121 } ct helper set "ftp-alt"',
        own='your rule at helper-port-2121.nft:14 (`tcp dport 2121 ct helper set "ftp-alt"`) never attached the '
        "FTP helper to the control connection: it matches port 2121; the control connection is to port 21",
    ),
    "helper-raw-priority": Seen(
        "the helper is assigned at priority raw (-300): the trace shows the rule running, and the "
        "control connection's conntrack entry has no helper; PASV gets the private address; running "
        "that chain at priority filter fixes it",
        "chain forward of table inet edge",
        "+        type filter hook prerouting priority filter; policy accept;",
        own="your rule at helper-raw-priority.nft:15 (`iifname $OUTSIDE_IF tcp dport 21 ct helper set "
        '"ftp-std"`) never attached the FTP helper to the control connection: its chain raw_pre runs at '
        "priority -300, before conntrack (-200)",
    ),
    "helper-under-tls": Seen(
        "the helper is attached (helper=ftp) but expects nothing: in plain FTP the 227 names the public "
        "address, not the connection's 10.0.2.2; under TLS it cannot read the reply; no change to the "
        "helper rule helps; forwarding and allowing the passive range fixes both",
        "fw took the SYN",
        "+        iifname $OUTSIDE_IF ip daddr $PUBLIC_IP tcp dport 50000-50009 dnat ip to $SERVER_IP",
        own="attached the FTP helper to the control connection, but it set up no expectation for a data "
        "connection: the control channel is encrypted (explicit TLS)",
        mended=False,
    ),
    "dnat-wrong-iif": Seen(
        "the port forward names eth0, the box's outside interface is wan0: the control connection ends "
        "at the box (refused); naming the outside interface fixes it",
        "chain forward of table inet edge",
        "+        iifname $OUTSIDE_IF ip daddr $PUBLIC_IP tcp dport { 21, 50000-50009 } dnat ip to $SERVER_IP",
        dropped=False,
        own='never applies: the packets arrive on wan0; fw has no interface "eth0"',
    ),
    "input-for-forwarded": Seen(
        "the passive range is accepted in input; the box forwards it, so forward's policy drops it; "
        "moving that accept to forward (with the address after the port forward) fixes it",
        "chain forward of table inet edge",
        "+        iifname $OUTSIDE_IF ip daddr $SERVER_IP tcp dport 50000-50009 accept",
        own="your rule at input-for-forwarded.nft:22 (`iifname $OUTSIDE_IF ip daddr $PUBLIC_IP tcp dport "
        "50000-50009 accept`) never applies: it sits in chain input on the input hook",
    ),
    "shadowed-accept": Seen(
        "the passive range's accept sits below a catch-all reject, which the trace shows rejecting the "
        "data connection; moving the accept above it fixes it",
        "chain forward of table inet edge",
        "+        iifname $OUTSIDE_IF ip daddr $SERVER_IP tcp dport 50000-50009 accept",
        own="your rule at shadowed-accept.nft:23 (`iifname $OUTSIDE_IF ip daddr $SERVER_IP tcp dport "
        "50000-50009 accept`) is never reached: shadowed-accept.nft:22",
    ),
    "set-lacks-port": Seen(
        "the named set of FTP ports holds 50000-50009, the server uses 50000-50099: data connections "
        "end at the box (refused); widening the set's range fixes it",
        "fw took the SYN",
        "+        elements = { 21, 50000-50099 }",
        own="its port set @ftp_ports lacks it; the server's passive range is 50000-50099",
    ),
    "drop-icmp": Seen("dropping every ICMP packet did not break explicit-TLS EPSV here (one MTU in the lab)"),
    "client-egress": Seen(
        "the office firewall lets clients out to 21/25/80/443/990 only: the EPSV data connection to "
        "50000+ is dropped by forward's policy; allowing the server's passive range out fixes it",
        "chain forward of table inet office",
        "tcp dport 50000-50009 accept",
    ),
    "lb-input": Seen(
        "HAProxy on the balancer answers the passive range itself, and the box's input chain lets in "
        "21 and 990 only: data connections time out; allowing the range in input fixes it",
        "chain input of table inet lb",
        "+        iifname $OUTSIDE_IF ip daddr $VIP tcp dport 50000-50009 accept",
    ),
    "lb-nft-balancer": Seen(
        "the nft balancer DNATs the passive range, forward accepts only 21/990: data times out; "
        "allowing the range (to either server) fixes it",
        "chain forward of table ip balancer",
        "+        iifname $OUTSIDE_IF oifname $INSIDE_IF tcp dport $PASV_RANGE accept",
    ),
    "edge-ipt": Seen(
        "iptables-save file: the passive range is port-forwarded but FORWARD (policy DROP) accepts "
        "21 only; the diff is an iptables-save line in FORWARD",
        "chain FORWARD of table ip filter",
        "+-A FORWARD -i wan0 -o lan0 -d 10.0.2.2/32 -p tcp -m tcp --dport 50000:50009 -j ACCEPT",
    ),
    "client-nat-ipt": Seen(
        "iptables-save office gateway, ftplib active mode (PORT) in plain FTP: the server refuses "
        "PORT with the private address (501); the helper (raw table, CT --helper ftp) fixes it",
        "chain FORWARD of table ip filter",
        "+-A PREROUTING -p tcp -m tcp --dport 21 -j CT --helper ftp",
        dropped=False,
    ),
    "iptables-nft-translated": Seen(
        "rules written with iptables-nft and saved as nft text (counters, ip tables, FORWARD): "
        "FORWARD accepts 21 and 22 only; allowing the passive range fixes it",
        "chain FORWARD of table ip filter",
        "tcp dport 50000-50009 accept",
    ),
}


# what a "stopped:" line names: a policy, a rule by file:line (or by handle where the file does
# not map), or a NAT event
STOP = re.compile(
    r"stopped: (.*: \(policy \w+\)|.*: [\w.-]+:\d+ `|.*: handle \d+ `|NAT could not|"
    r".* for itself, untranslated)"
)


def verify(cwd, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "harness", "verify", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_corpus_plan_is_covered():
    assert sorted(p.stem for p in RULESETS.glob("*.yaml")) == sorted(CORPUS)


@pytest.mark.netns
@pytest.mark.parametrize("name", sorted(CORPUS))
def test_verify_names_the_stop_and_its_proven_diff_fixes_the_case(name, tmp_path):
    seen = CORPUS[name]
    work = tmp_path / "rulesets"
    shutil.copytree(RULESETS, work)
    r = verify(work, f"{name}.yaml", "--patch-dir", str(tmp_path / "patches"))
    out = r.stdout + r.stderr
    if seen.stopped is None:
        assert r.returncode == 0, out[-3000:]
        return
    assert r.returncode == 1, out[-3000:]
    flat = " ".join(out.split())  # the terminal wraps long lines
    assert "stopped:" in out and seen.stopped in flat, out[-3000:]
    assert "stopped: not traced" not in out, out[-3000:]
    if seen.dropped:
        assert STOP.search(out), out[-3000:]  # the rule or policy itself, not only its chain
    else:
        assert "stopped: traced: no rule or policy of your ruleset dropped it" in out, out[-3000:]
    if seen.own:
        assert seen.own in flat, out[-4000:]
        assert ("proven by re-run:" in flat) == seen.mended, out[-4000:]
        if not seen.mended:
            assert "no change to this rule can help" in flat, out[-4000:]
    patches = sorted((tmp_path / "patches").glob("*.patch"))
    assert patches, out[-3000:]
    diff = patches[0].read_text()
    assert seen.added in diff, diff
    applied = subprocess.run(["patch", "-p0"], cwd=work, input=diff, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = verify(work, f"{name}.yaml")
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
