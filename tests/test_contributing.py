"""CONTRIBUTING.md's example files hold against the real code: the topology file is read as
the harness reads a `--topology FILE` (so the shipped registry stays as it is); each Python
example is loaded into a copy of its registry, through the real decorators and `register`
functions. Each is then used the way the harness uses its kind."""

import re
import subprocess
import sys
import types
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import REPO

import clients
import servers
from harness import cli, topology_command
from harness.build import topologies
from harness.core.case import Case, ClientSpec, NetSpec, ServerSpec
from harness.judge import checks, fixes
from harness.judge.stages import place
from harness.observe import recording
from harness.observe.observation import ClientReport, ControlLine, Failure
from harness.plan.axes import Axes, plan

TEXT = (REPO / "CONTRIBUTING.md").read_text()
EXAMPLES = dict(re.findall(r"```(?:python|yaml)\n# (\S+)\n(.*?)```", TEXT, re.S))
FIX = REPO / "tests" / "fixtures" / "observations"


def test_every_kind_has_its_example():
    assert set(EXAMPLES) == {
        "topologies/server-two-tier.yaml",
        "servers/pyftpdlib_cli.py",
        "clients/curl_once.py",
        "harness/judge/checks/login.py",
        "tests/test_login_refused.py",
        "harness/judge/fixes/active_mode.py",
    }
    for path in EXAMPLES:
        assert not (REPO / path).exists(), f"{path} is an example, yet the repository has it"


@pytest.fixture
def registries(monkeypatch):
    """Every registry loaded, then swapped for a copy that the examples register into."""
    for registry in (topologies.REGISTRY, servers._REGISTRY, clients._REGISTRY, checks.REGISTRY, fixes.REGISTRY):
        registry.names()
        monkeypatch.setattr(registry, "_items", dict(registry._items))


def load(path: str) -> types.ModuleType:
    """The example as the module its path names (registering itself on the way)."""
    module = types.ModuleType(path.removesuffix(".py").replace("/", "."))
    module.__file__ = str(REPO / path)
    exec(compile(EXAMPLES[path], path, "exec"), module.__dict__)
    return module


def example_file(path: str, tmp_path: Path) -> Path:
    """The example written where its path puts it, in a copy of the repository's layout (its
    ruleset files, ../nat/*.nft, are the repository's own)."""
    (tmp_path / "nat").symlink_to(REPO / "nat")
    out = tmp_path / path
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(EXAMPLES[path])
    return out


def test_the_topology_example_builds_in_both_families_and_plans_its_cases(tmp_path):
    path = example_file("topologies/server-two-tier.yaml", tmp_path)
    kind = topologies.read(path)  # as `ftps-harness topology check` and `--topology FILE` read it
    assert kind.name == path.stem == "server-two-tier" and kind.name not in topologies.names()
    catalog, names = topology_command.resolve([str(path)])
    assert names == ("server-two-tier",)
    for family in ("ipv4", "ipv6"):
        topo = catalog.build("server-two-tier", ServerSpec(), NetSpec(family=family))
        assert [m.name for m in topo.middleboxes] == ["fw", "inner"]
        for box in topo.middleboxes:
            assert box.ruleset is not None and box.ruleset.forwards  # each tier opens the passive range
            assert all((REPO / "nat" / f).exists() for f in box.ruleset.files)
    # "after server-nat-alg" in `ftps-harness list`, were it shipped
    shipped = [(topologies.get(n).order, n) for n in topologies.names()]
    assert max((o, n) for o, n in shipped if o < kind.order)[1] == "server-nat-alg"
    # "its 60 case ids (30 per family)": a matrix with no --family runs each topology's own families
    assert len(plan(Axes(topologies=("server-two-tier",), families=None), catalog)) == 60
    assert len(plan(Axes(topologies=("server-two-tier",), families=("ipv4",)), catalog)) == 30
    # an edge: composed with a shipped client-side edge by name
    composed = catalog.build("client-nat+server-two-tier", ServerSpec())
    assert [m.name for m in composed.middleboxes] == ["fw-client", "fw-server", "inner"]
    assert composed.server_public == "203.0.113.10"
    assert len(plan(Axes(topologies=("client-nat+server-two-tier",), families=None), catalog)) == 60
    args = cli.parser().parse_args(["matrix", "--topology", f"{path},client-nat+server-two-tier", "--list"])
    assert topology_command.resolve(args.topology)[1] == ("server-two-tier", "client-nat+server-two-tier")


def test_the_server_example_renders_its_command_line_and_reads_its_log(registries, tmp_path):
    load("servers/pyftpdlib_cli.py")
    adapter = servers.get("pyftpdlib-cli")
    assert adapter.supports(ServerSpec("pyftpdlib-cli", "implicit"))
    assert adapter.supports(ServerSpec("pyftpdlib-cli", "explicit")) is None
    ctx = servers.ServerContext(
        "203.0.113.10", certs=types.SimpleNamespace(key="k", cert="c"), home=tmp_path, log=tmp_path / "server.log"
    )
    argv = adapter.argv(ServerSpec("pyftpdlib-cli", "explicit", masquerade=True), ctx)
    assert argv[1:3] == ["-m", "pyftpdlib"] and "--tls" in argv and argv[argv.index("-n") + 1] == "203.0.113.10"
    help_text = subprocess.run([sys.executable, "-m", "pyftpdlib", "--help"], capture_output=True, text=True).stdout
    for option in [a for a in argv if a.startswith("--")] + list(adapter.settings.values()):
        assert option in help_text, option
    # what `python -m pyftpdlib -D` wrote on stderr in a real session
    ctx.log.with_suffix(".stderr").write_text(
        "[I 2026-12-03 14:00:10] >>> starting FTP server on 0.0.0.0:21, pid=20422 <<<\n"
        "[D 2026-12-03 14:00:12] 10.0.1.2:51192-[] -> 220 pyftpdlib 2.2.0 ready.\n"
        "[D 2026-12-03 14:00:12] 10.0.1.2:51192-[] <- USER ftpuser\n"
        "[D 2026-12-03 14:00:12] [debug] call: close() (<PassiveDTP listening 10.0.2.2:50007>)\n"
    )
    events, _ = adapter.read_log(ctx.log, 0)
    assert [(e["kind"], e["peer"], e["line"]) for e in events] == [
        ("sent", "10.0.1.2:51192", "220 pyftpdlib 2.2.0 ready."),
        ("recv", "10.0.1.2:51192", "USER ftpuser"),
    ]


class CannedLab:
    """A lab whose client host answers every command with one recorded curl run."""

    def __init__(self, code: int, output: str) -> None:
        self.code, self.output, self.argv = code, output, []

    def run(self, host, argv, timeout=None):
        self.argv = argv
        return subprocess.CompletedProcess(argv, self.code, self.output, "")


def test_the_client_example_reports_facts_and_says_what_curl_exit_codes_mean(registries):
    load("clients/curl_once.py")
    adapter = clients.get("curl-once")
    server = ServerSpec("vsftpd", "explicit")
    assert adapter.supports(Case("server-nat", server, ClientSpec("curl-once", "port", None)))
    case = Case("server-nat", server, ClientSpec("curl-once", "epsv", None))
    lab = CannedLab(
        7,
        "*   Trying 203.0.113.10:21...\n"
        "* connect to 203.0.113.10 port 21 failed: Connection refused\n"
        "curl: (7) Failed to connect to 203.0.113.10 port 21 after 0 ms: Couldn't connect to server\n",
    )
    report = adapter.session(lab, "client", case, clients.ClientContext("203.0.113.10", Path("/nonexistent/ca.pem")))
    assert lab.argv.count("--next") == 2
    assert report.failure.exit_code == 7 and report.failure.error.startswith("curl: (7)")
    assert adapter.exit_says(report.failure) == "unreached"
    assert place(report, "explicit", "curl-once").stage == "connect"
    said = "530 Login incorrect."
    lines = (ControlLine("recv", "220 (vsFTPd 3.0.3)"), ControlLine("sent", "USER ftp"), ControlLine("recv", said))
    login = ClientReport(ok=False, transcript=lines, failure=Failure("reply", f"curl: (67) {said}", said, exit_code=67))
    assert place(login, "explicit", "curl-once").stage == "login"  # exit 67, read through exit_says


def test_the_check_example_decides_in_its_place_and_its_test_passes(registries):
    load("harness/judge/checks/login.py")
    assert [c.name for c in checks.table()].index("login-refused") == [c.name for c in checks.table()].index(
        "tls-failed"
    ) + 1
    load("tests/test_login_refused.py").test_a_refused_login_is_named_as_such()


def test_the_fix_example_applies_to_active_mode_behind_client_nat(registries):
    load("harness/judge/fixes/active_mode.py")
    obs = recording.load(FIX / "client-nat__pyftpdlib__ftplib__explicit__port__n-a__masq-off.json")
    verdict = checks.judge(obs)
    assert verdict.check == "foreign-address"
    changed = {f.name: c for f, c in fixes.candidates(obs.case, verdict)}
    assert changed["passive-mode"] == replace(obs.case, client=replace(obs.case.client, mode="epsv", pasv_address=None))
    assert changed["passive-mode"].id == "client-nat/pyftpdlib/ftplib/explicit/epsv/n-a/masq-off"
