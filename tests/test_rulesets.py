"""verify on rulesets written as admins write them (tests/rulesets/): each failing case's
stopping rule or policy (file:line where the file maps, else its handle) or NAT event is
named, and the smallest proven change, applied with `patch -p0` to a copy of the admin's
file, makes the plan pass when verify runs again.

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
        "out; a helper on 21 (a table of its own) fixes it, with one re-run",
        "chain forward of table ip edge",
        '+        tcp dport { 21 } ct helper set "ftp-std"',
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
    assert "stopped:" in out and seen.stopped in out, out[-3000:]
    assert "stopped: not traced" not in out, out[-3000:]
    if seen.dropped:
        assert STOP.search(out), out[-3000:]  # the rule or policy itself, not only its chain
    else:
        assert "stopped: traced: no rule or policy of your ruleset dropped it" in out, out[-3000:]
    patches = sorted((tmp_path / "patches").glob("*.patch"))
    assert patches, out[-3000:]
    diff = patches[0].read_text()
    assert seen.added in diff, diff
    applied = subprocess.run(["patch", "-p0"], cwd=work, input=diff, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = verify(work, f"{name}.yaml")
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
