"""The `ftps-harness` command as a CI system and a terminal user meet it: the console script,
--version, exit codes, --list, compare, --help and shell completion. No root needed."""

import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
from conftest import REPO, harness

from harness import cli

FIXTURE = Path(__file__).parent / "fixtures" / "results" / "server-nat-explicit.json"


def test_the_console_script_points_at_the_cli():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, func = scripts["ftps-harness"].partition(":")
    assert (module, func) == ("harness.cli", "main_exit") and callable(cli.main_exit)


def test_version_names_the_harness_and_the_commit_of_the_checkout():
    r = harness("--version", timeout=30)
    sha = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    assert r.returncode == 0 and re.match(r"ftps-harness \d+\.\d+\.\d+ \(commit [0-9a-f]{12}", r.stdout)
    assert sha in r.stdout


def test_list_prints_the_planned_case_ids_and_runs_nothing():
    r = harness("matrix", "--topology", "server-nat", "--family", "ipv4", "-k", "*/pasv/trust/*", "--list", timeout=30)
    assert r.returncode == 0 and r.stderr == ""
    ids = r.stdout.split()
    assert len(ids) == 6 and all(i.startswith("server-nat/") and "/pasv/trust/" in i for i in ids)


def test_list_of_a_shard_is_its_part():
    full = harness("matrix", "--topology", "direct,server-nat", "--list", timeout=30).stdout.split()
    parts = [
        harness("matrix", "--topology", "direct,server-nat", "--list", "--shard", f"{i}/2", timeout=30).stdout.split()
        for i in (1, 2)
    ]
    assert sorted(parts[0] + parts[1]) == sorted(full) and parts[0] and parts[1]


@pytest.mark.parametrize(
    "args, says",
    [
        (["matrix", "--case", "server-nat/pyftpdlib"], "expected topology/server/client"),
        (["matrix", "-k", "no-such-case", "--list"], "no case matches"),
        (["matrix", "--shard", "3/2"], "must be I/N"),
        (["matrix", "--durations", "/nonexistent.json"], "no such file"),
        (["matrix", "--last-failed", "/nonexistent.json"], "no such file"),
        (["compare", str(FIXTURE), str(REPO / "pyproject.toml")], "not JSON"),
    ],
)
def test_bad_selection_input_exits_2_and_says_why(args, says):
    r = harness(*args, timeout=30)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr


def test_last_failed_with_nothing_failed_runs_nothing_and_exits_0(tmp_path):
    doc = json.loads(FIXTURE.read_text())
    for c in doc["cases"]:
        c.update(outcome="pass", stage=None, check="passed")
    green = tmp_path / "green.json"
    green.write_text(json.dumps(doc))
    r = harness("matrix", "--last-failed", str(green), timeout=30)
    assert r.returncode == 0 and "nothing to re-run" in r.stdout


def test_merge_refuses_an_incomplete_set_of_parts(tmp_path):
    doc = json.loads(FIXTURE.read_text())
    doc["cases"].pop(2)
    part = tmp_path / "part.json"
    part.write_text(json.dumps(doc))
    r = harness("merge", str(part), "--report-dir", str(tmp_path / "out"), timeout=30)
    assert r.returncode == 2 and "1 of 6 planned cases are in no part" in r.stderr
    assert not (tmp_path / "out").exists()


def test_a_bug_in_the_harness_exits_3(monkeypatch, capsys):
    def broken(args, console):
        raise ZeroDivisionError("a bug")

    monkeypatch.setitem(cli.COMMANDS, "list", broken)
    monkeypatch.delenv("FTPS_HARNESS_DEBUG", raising=False)
    assert cli.main(["list"]) == 3
    assert "internal error (a bug in the harness)" in capsys.readouterr().err


def test_compare_exits_1_when_a_case_went_from_pass_to_fail(tmp_path):
    doc = json.loads(FIXTURE.read_text())
    case = next(c for c in doc["cases"] if c["outcome"] == "pass")
    case.update(outcome="fail", stage="data-connect", check="advertised-address-unreachable")
    new = tmp_path / "new.json"
    new.write_text(json.dumps(doc))
    r = harness("compare", str(FIXTURE), str(new), timeout=30)
    assert r.returncode == 1 and "REGRESSION" in r.stdout and case["id"] in r.stdout
    js = harness("compare", str(FIXTURE), str(new), "--json", timeout=30)
    assert js.returncode == 1 and json.loads(js.stdout)["regressions"] == 1
    same = harness("compare", str(FIXTURE), str(FIXTURE), timeout=30)
    assert same.returncode == 0 and "no case changed" in same.stdout


def test_help_has_groups_and_examples():
    r = harness("matrix", "--help", timeout=30)
    for group in ("what to run", "which cases", "how to run", "reports", "examples:", "exit codes:"):
        assert group in r.stdout


def test_shell_completion_offers_the_registries():
    import clients
    import servers
    from harness.build import topologies

    r = harness("--print-completion", "bash", timeout=30)
    assert r.returncode == 0
    for name in (*topologies.names(), *servers.names(), *clients.names()):
        assert name in r.stdout
    done = subprocess.run(
        [
            "bash",
            "-c",
            r.stdout + "\nCOMP_WORDS=(ftps-harness matrix --server vsftpd,pro); "
            'COMP_CWORD=3; COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}; '
            '_shtab_ftps_harness; echo "${COMPREPLY[@]}"',
        ],
        capture_output=True,
        text=True,
    )
    assert done.stdout.split() == ["vsftpd,proftpd"]


def test_printed_command_lines_start_the_harness_as_this_process_was(monkeypatch, tmp_path):
    from harness.core import program as meta

    monkeypatch.delenv(meta.PROGRAM_ENV, raising=False)
    monkeypatch.setattr("sys.argv", ["/opt/x/.venv/bin/ftps-harness", "matrix"])
    monkeypatch.setattr("shutil.which", lambda name: None)  # not on PATH: the path as typed
    assert meta.program() == ["/opt/x/.venv/bin/ftps-harness"]
    monkeypatch.setattr("shutil.which", lambda name: "/opt/x/.venv/bin/ftps-harness")
    assert meta.program() == ["ftps-harness"]
    monkeypatch.setattr("sys.argv", ["/repo/harness/__main__.py", "matrix"])
    assert meta.program()[1:] == ["-m", "harness"]
    monkeypatch.setenv(meta.PROGRAM_ENV, ".venv/bin/ftps-harness")  # kept across the user-namespace re-run
    assert meta.command_line(["matrix", "--list"]) == ".venv/bin/ftps-harness matrix --list"
