"""Command line: argument parsing and wiring only. `ftps-harness --help`."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import shtab
from rich.console import Console
from rich.text import Text

import clients
import servers
from harness import path_args, ticket_command, topology_command
from harness.build import backends, topologies
from harness.build.backends import BackendUnavailable
from harness.build.backends import get as get_backend
from harness.build.topologies import Catalog
from harness.completion import words
from harness.core import family, inputs, tls
from harness.core.case import DATA_MODES, MASQUERADE, PASV_POLICIES, Case, NetSpec, PassiveRange
from harness.core.program import PROGRAM_ENV, command_line, program
from harness.core.repo import nat_file
from harness.core.tls import NAMES as TLS_MODES
from harness.judge.verdict import Result
from harness.meta import version_line, versions
from harness.plan import shard
from harness.plan.axes import Axes, plan
from harness.plan.selection import SelectionError, failed_ids, rerun_command, select
from harness.plan.shard import Shard
from harness.probe import command as probe_command
from harness.report import bundle, compare, gates, jsonfile, terminal
from harness.report import rules as rules_report
from harness.report.gates import GATES
from harness.report.merge import merge
from harness.reproduce import fixing as reproduce
from harness.reproduce import scenario
from harness.run import scratch, signals
from harness.run.execute import execute
from harness.run.worker import Interrupted
from harness.verify import plan as verify

EXIT_OK, EXIT_CASE_ERROR, EXIT_USAGE, EXIT_BROKEN, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(Exception):
    pass


def _list(flag: str, valid: Sequence[str]) -> Callable[[str], tuple[str, ...]]:
    """argparse type: comma-separated values, each one of `valid`."""

    def parse(text: str) -> tuple[str, ...]:
        if text.strip() == "all" or (text.strip() == "both" and len(valid) == 2):
            return tuple(valid)
        items = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
        if not items:
            raise argparse.ArgumentTypeError(f"{flag} needs at least one value; valid: {', '.join(valid)}")
        bad = [x for x in items if x not in valid]
        if bad:
            raise argparse.ArgumentTypeError(
                f"{flag}: unknown value{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}; "
                f"valid: {', '.join(valid)} (or all)"
            )
        return items

    return parse


def _range(text: str) -> PassiveRange:
    try:
        return PassiveRange.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--passive-range: {e}") from None


def _forward(text: str) -> PassiveRange | str:
    if text.strip() == "none":
        return "none"
    try:
        return PassiveRange.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--forward-range: {e}, or none") from None


def _whole(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²', which int() then refuses."""
    return text.isascii() and text.isdigit() and len(text) < 6


def _busy(text: str) -> int:
    if not _whole(text) or int(text) > 64:
        raise argparse.ArgumentTypeError(f"--busy-sessions: {text!r} is not a whole number from 0 to 64")
    return int(text)


def _transfers(text: str) -> int:
    if not _whole(text) or not 1 <= int(text) <= 10:
        raise argparse.ArgumentTypeError(f"--transfers: {text!r} is not a whole number from 1 to 10")
    return int(text)


def _repeat(text: str) -> int:
    if not _whole(text) or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"--repeat: {text!r} is not a whole number from 1 to 100")
    return int(text)


def default_jobs() -> int:
    """Four labs a core, at most 16: a lab waits more than it computes, so more labs than
    cores is faster (make bench on 2 cores: --jobs 8 the fastest, 2 the slowest)."""
    return min(16, 4 * (os.cpu_count() or 1))


def _jobs(text: str) -> int:
    if not _whole(text) or not 1 <= int(text) <= 16:
        raise argparse.ArgumentTypeError(f"--jobs: {text!r} is not a whole number from 1 to 16")
    return int(text)


EXAMPLES = """examples:
  ftps-harness matrix                                   the default matrix (every topology)
  ftps-harness matrix --topology server-nat --list      the case ids it would run
  ftps-harness matrix -k 'server-nat/*/pasv/trust/*'    only the cases matching a glob
  ftps-harness matrix --case server-nat/pyftpdlib/ftplib/explicit/pasv/trust/masq-off
  ftps-harness matrix --last-failed reports/results.json --report-dir reports/rerun
  ftps-harness matrix --shard 2/4 --report-dir part2    one of four CI jobs; then:
  ftps-harness merge part1 part2 part3 part4 --report-dir reports
  ftps-harness compare yesterday/results.json reports/results.json
  ftps-harness reproduce scenarios/03-passive-range-not-forwarded.yaml
  ftps-harness verify plans/vsftpd-edge.yaml

exit codes: 0 ran, no gate tripped; 1 --fail-on tripped (compare: a case went pass -> fail);
2 bad input; 3 the harness broke; 130 interrupted. See docs/cli.md."""


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _existing(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text}: no such file or folder")
    return path


def fail_on(group: argparse._ActionsContainer, default: str) -> None:
    group.add_argument(
        "--fail-on",
        choices=list(GATES),
        default=default,
        help=f"exit 1 when a case shows this or worse (default: {default}): "
        + "; ".join(f"{k}: {v[1]}" for k, v in GATES.items()),
    )


def report_paths(group: argparse._ActionsContainer) -> None:
    group.add_argument(
        "--report-dir", type=Path, metavar="DIR", help="write every report there: " + ", ".join(bundle.NAMES)
    )
    group.add_argument("--json", type=Path, metavar="PATH", help="write results as JSON here")


def reporting(p: argparse.ArgumentParser, default_gate: str) -> None:
    """The reports and the gate of reproduce and verify, as matrix has them."""
    report_paths(p)
    fail_on(p, default_gate)


def parser() -> argparse.ArgumentParser:
    topo_names = topologies.names()
    p = argparse.ArgumentParser(
        prog="ftps-harness",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="FTP/FTPS connectivity test harness: real NAT, real peers, true verdicts.",
    )
    p.add_argument("--version", action="version", version=version_line())
    shtab.add_argument_to(
        p, ["--print-completion"], help="print a shell completion script: --print-completion bash (or zsh, tcsh)"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    m = sub.add_parser(
        "matrix",
        help="run a matrix of cases and print the verdicts",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ax = m.add_argument_group("what to run (the axes; each takes a comma-separated list, or all)")
    words(
        ax.add_argument(
            "--topology",
            type=_topologies,
            default=tuple(topologies.defaults()),
            metavar="LIST",
            help=f"shipped topologies, two of them joined by + (a client-side edge, then a server-side "
            f"one: client-nat-alg+server-nat), or topology files (docs/topology-files.md); default: "
            f"{','.join(topologies.defaults())}; also: "
            f"{','.join(n for n in topo_names if n not in topologies.defaults())}",
        ),
        topo_names,
    )
    words(
        ax.add_argument(
            "--mode",
            type=_list("--mode", DATA_MODES),
            default=DATA_MODES,
            help=f"data connection modes; default {','.join(DATA_MODES)}",
        ),
        DATA_MODES,
    )
    words(
        ax.add_argument(
            "--tls",
            type=_list("--tls", TLS_MODES),
            default=tls.DEFAULT_MATRIX,
            help=f"{', '.join(f'{n}: {tls.mode(n).summary}' for n in TLS_MODES)}; "
            f"default {','.join(tls.DEFAULT_MATRIX)}",
        ),
        TLS_MODES,
    )
    words(
        ax.add_argument(
            "--tls-version",
            type=_list("--tls-version", tls.VERSIONS),
            default=("1.3",),
            metavar="LIST",
            help="the highest TLS version the client offers: 1.2, 1.3 or both (default 1.3)",
        ),
        tls.VERSIONS,
    )
    ax.add_argument(
        "--transfers",
        type=_transfers,
        default=1,
        metavar="N",
        help="upload+download rounds in one control session (default 1); 2 or more "
        "shows TLS session resumption across transfers",
    )
    words(
        ax.add_argument(
            "--verify-cert",
            type=_list("--verify-cert", tls.VERIFY),
            default=("on",),
            metavar="LIST",
            help="the client checks the server certificate against the lab CA "
            "(on), skips the check like curl -k (off), or checks it against "
            "the system CAs only, as a client never given the server's CA "
            "(system); default on",
        ),
        tls.VERIFY,
    )
    words(
        ax.add_argument(
            "--pasv-address",
            type=_list("--pasv-address", PASV_POLICIES),
            default=PASV_POLICIES,
            help="trust: connect to the address in the 227 reply; control: use the control "
            "connection's address (ftplib's default). Default both",
        ),
        PASV_POLICIES,
    )
    words(
        ax.add_argument(
            "--masquerade",
            type=_list("--masquerade", MASQUERADE),
            default=MASQUERADE,
            help="server advertises its public address (on) or its own (off); default both",
        ),
        MASQUERADE,
    )
    words(
        ax.add_argument(
            "--permit-foreign-addresses",
            type=_list("--permit-foreign-addresses", MASQUERADE),
            default=("off",),
            metavar="LIST",
            help="server accepts data connections from/to other addresses than the control "
            "peer: on, off or both (default off)",
        ),
        MASQUERADE,
    )
    words(
        ax.add_argument(
            "--session-reuse",
            type=_list("--session-reuse", ("default", "off")),
            default=("default",),
            metavar="LIST",
            help="the server's requirement of TLS session reuse on data connections: its own "
            "default, or off (vsftpd require_ssl_reuse=NO, ProFTPD NoSessionReuseRequired)",
        ),
        ("default", "off"),
    )
    words(
        ax.add_argument(
            "--family",
            type=_list("--family", family.NAMES),
            default=None,
            metavar="LIST",
            help="address families: ipv4, ipv6 or both (default: both for the core "
            f"topologies {','.join(topologies.both_families())} and dual-stack-edge; "
            "ipv6 for nat64; ipv4 for the others)",
        ),
        family.NAMES,
    )
    words(
        ax.add_argument(
            "--server",
            type=_list("--server", servers.names()),
            default=("pyftpdlib",),
            help=f"server implementations; valid: {','.join(servers.names())}",
        ),
        servers.names(),
    )
    words(
        ax.add_argument(
            "--client",
            type=_list("--client", clients.names()),
            default=("ftplib",),
            help=f"client implementations; valid: {','.join(clients.names())}",
        ),
        clients.names(),
    )
    ax.add_argument(
        "--passive-range",
        type=_range,
        default=PassiveRange(50000, 50009),
        help="the server's passive port range (default 50000-50009)",
    )
    ax.add_argument(
        "--forward-range",
        type=_forward,
        metavar="RANGE|none",
        help="the firewalls open this range instead of the server's passive range "
        "(a firewall/server range mismatch), or none at all",
    )
    ax.add_argument(
        "--busy-sessions",
        type=_busy,
        default=0,
        metavar="N",
        help="N other sessions hold passive ports open during each case (reproduces passive range exhaustion)",
    )
    path_args.add_arguments(m)
    sel = m.add_argument_group("which cases (applied after the axes)")
    sel.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="ID",
        help="run exactly this case (repeatable); its id says everything, so the axes are ignored",
    )
    sel.add_argument(
        "-k",
        action="append",
        default=[],
        metavar="EXPR",
        dest="k",
        help="only case ids containing EXPR, or matching it as a glob (* ? []); repeatable (any)",
    )
    sel.add_argument(
        "--last-failed",
        type=_existing,
        metavar="RESULTS.json",
        help="run the cases that failed or errored in that results.json",
    )
    sel.add_argument("--list", action="store_true", help="print the planned case ids and exit")
    sel.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="run the I-th of N parts (whole units, balanced; deterministic); merge the parts "
        "with `ftps-harness merge`",
    )
    sel.add_argument(
        "--durations",
        type=_existing,
        metavar="RESULTS.json",
        help="run the longest units first, and balance --shard, by the case durations of that "
        "earlier run (default: case count)",
    )
    run = m.add_argument_group("how to run")
    run.add_argument(
        "--jobs",
        type=_jobs,
        default=default_jobs(),
        help="labs run in parallel (default: four a core, at most 16)",
    )
    run.add_argument(
        "--repeat",
        type=_repeat,
        default=1,
        metavar="N",
        help="run every selected case N times, for a stability study: a case whose runs disagree is "
        "reported as flaky, with its counts (default 1; a failure no hard evidence backs runs twice anyway)",
    )
    run.add_argument("--backend", choices=backends.names(), default="netns")
    fail_on(run, "error")
    run.add_argument(
        "--prove-minimal", action="store_true", help="replay each passing case without each rule in turn (slower)"
    )
    run.add_argument("--no-rules", action="store_true", help="skip deriving and proving firewall rules (fastest)")
    run.add_argument(
        "--no-trace",
        action="store_true",
        help="do not follow `nft monitor trace` in the middleboxes (diagnoses fall back to heuristics; docs/trace.md)",
    )
    run.add_argument(
        "--no-early-stop",
        action="store_true",
        help="wait out the client's timeout even when the trace shows a rule dropped "
        "the connection (same verdicts, slower; docs/trace.md)",
    )
    out = m.add_argument_group("reports")
    report_paths(out)
    out.add_argument(
        "--rules", action="store_true", help="print the firewall rule sets of the passing cases, identical sets once"
    )
    out.add_argument(
        "--rules-md",
        type=Path,
        metavar="PATH",
        help="write the matrix and every rule set (nft, iptables, table) as Markdown",
    )
    out.add_argument(
        "--capture",
        action="store_true",
        help="record a pcap per case and firewall interface, and TLS key logs, under "
        "<report dir>/cases/<case>/ (report dir: --report-dir, else reports)",
    )
    out.add_argument("--record", type=Path, metavar="DIR", help="also save each case's raw observation (JSON) in DIR")

    mg = sub.add_parser("merge", help="merge the results of --shard parts into one set of reports")
    mg.add_argument("parts", nargs="+", type=_existing, metavar="PART", help="a part's report dir or its results.json")
    mg.add_argument("--report-dir", type=Path, metavar="DIR", required=True)

    cp = sub.add_parser("compare", help="what changed between two runs (exit 1 if a case went pass -> fail)")
    cp.add_argument("old", type=_existing, metavar="OLD.json")
    cp.add_argument("new", type=_existing, metavar="NEW.json")
    cp.add_argument("--json", action="store_true", help="print the changes as JSON")

    c = sub.add_parser("clean", help="remove namespaces and processes a killed run left behind")
    c.add_argument("--force", action="store_true", help="also remove those of runs still alive")
    c.add_argument("--backend", choices=backends.names(), default="netns")

    rp = sub.add_parser("reproduce", help="run a scenario file, show its failures and try the known fixes")
    rp.add_argument(
        "files", type=Path, nargs="*", metavar="FILE", help="scenario YAML files (see scenarios/), run as one"
    ).complete = shtab.FILE  # type: ignore[attr-defined]
    rp.add_argument(
        "--from",
        dest="from_files",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="a ticket's files instead of a scenario: import them (ftps-harness import), run the "
        "scenario, and say whether the lab failed as the ticket did (docs/import.md)",
    ).complete = shtab.FILE  # type: ignore[attr-defined]
    rp.add_argument(
        "--topology",
        type=Path,
        metavar="FILE",
        help="run the scenario on this topology file instead of the one it names (docs/topology-files.md)",
    ).complete = shtab.FILE  # type: ignore[attr-defined]
    rp.add_argument("--no-fixes", action="store_true", help="only run the scenario")
    rp.add_argument(
        "--capture",
        action="store_true",
        help="record a pcap per firewall interface, TLS key logs and the client's own log per case, under "
        "<report dir>/cases/<case>/ (what a ticket would attach)",
    )
    rp.add_argument(
        "--prove-minimal",
        action="store_true",
        help="prove the fixed cases' rules minimal: replay without each rule in turn (slower)",
    )
    rp.add_argument(
        "--repeat", type=_repeat, default=1, metavar="N", help="run every case N times: runs that disagree are flaky"
    )
    rp.add_argument("--jobs", type=_jobs, default=default_jobs())
    reporting(rp, "error")
    rp.add_argument("--backend", choices=backends.names(), default="netns")

    vp = sub.add_parser("verify", help="check a planned firewall ruleset against the clients that must work")
    vp.add_argument("plan", type=Path, help="a plan YAML file (see plans/)").complete = shtab.FILE  # type: ignore[attr-defined]
    vp.add_argument(
        "--topology",
        type=Path,
        metavar="FILE",
        help="a topology file whose boxes carry your rulesets, instead of the plan's topology",
    ).complete = shtab.FILE  # type: ignore[attr-defined]
    vp.add_argument("--jobs", type=_jobs, default=default_jobs())
    reporting(vp, "fail")
    vp.add_argument("--backend", choices=backends.names(), default="netns")
    vp.add_argument(
        "--patch-dir",
        type=Path,
        metavar="DIR",
        help="write each failing case's smallest proven change as a patch (patch -p0 < FILE)",
    )

    sub.add_parser("list", help="list topologies, servers and clients")
    probe_command.add(sub)
    topology_command.add(sub)
    ticket_command.add(sub)

    r = sub.add_parser("rules", help="print a topology's firewall ruleset as the harness loads it")
    r.add_argument("topology", type=_topologies, metavar="NAME|A+B|FILE")
    r.add_argument("--passive-range", type=_range, default=PassiveRange(50000, 50009))
    r.add_argument("--family", choices=family.NAMES, default="ipv4")
    return p


# --- commands -------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    console.print("[bold]topologies[/]")
    for name in topologies.names():
        console.print(f"  {name:24} {topologies.get(name).summary}")
    console.print("[bold]servers[/]")
    for name in servers.names():
        console.print(f"  {name:24} {servers.get(name).summary}")
    console.print("[bold]clients[/]")
    for name in clients.names():
        console.print(f"  {name:24} {clients.get(name).summary}")
    return EXIT_OK


def cmd_rules(args: argparse.Namespace, console: Console) -> int:
    from harness.core.case import ServerSpec

    catalog, names = topology_command.resolve(args.topology)
    for name in names:
        topo = catalog.build(name, ServerSpec(passive=args.passive_range), NetSpec(family=args.family))
        for box in topo.middleboxes:
            if box.ruleset:
                print(f"# --- {name}: {box.name} ---")
                print(box.ruleset.render(nat_file))
    return EXIT_OK


def cmd_clean(args: argparse.Namespace, console: Console) -> int:
    backend = get_backend(args.backend)
    removed = backend.clean(force=args.force)
    what = "namespace(s)" if backend.name == "netns" else "object(s)"
    console.print(f"removed {len(removed)} {what}" + (f": {', '.join(removed)}" if removed else ""))
    folders = scratch.clean(force=args.force)
    if folders:
        console.print(f"removed {len(folders)} scratch folder(s) of dead runs: {', '.join(map(str, folders))}")
    return EXIT_OK


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path is usable before the run starts (a run's results are never lost)."""
    for flag, attr in (("--json", "json"), ("--rules-md", "rules_md")):
        if getattr(args, attr, None):
            inputs.writable_file(getattr(args, attr), flag)
    for flag, attr in (("--report-dir", "report_dir"), ("--record", "record")):
        if getattr(args, attr, None):
            inputs.writable_dir(getattr(args, attr), flag)
    if getattr(args, "capture", False):
        inputs.writable_dir(args.report_dir or Path("reports"), "--capture")


def _topologies(text: str) -> tuple[str, ...]:
    """argparse type of --topology: names, A+B, files; comma-separated (checked when used)."""
    if text.strip() == "all":
        return tuple(topologies.names())
    items = tuple(dict.fromkeys(x.strip() for x in text.split(",") if x.strip()))
    if not items:
        raise argparse.ArgumentTypeError("--topology needs at least one value")
    return items


def _planned(args: argparse.Namespace, axes: Axes, catalog: Catalog) -> tuple[list[Case], dict[str, int]]:
    """The cases this invocation runs, and each one's index in the whole (unsharded) plan."""
    ids = list(args.case) + (failed_ids(args.last_failed) if args.last_failed else [])
    cases = select(plan(axes, catalog), ids, args.k, catalog)
    if not cases:
        raise UsageError("no case matches " + " ".join(f"-k {k!r}" for k in args.k))
    index = {c.id: i for i, c in enumerate(cases)}
    if args.shard:
        cases = shard.pick(cases, args.shard, args.durations)
    return cases, index


@dataclasses.dataclass
class Finished:
    """What a command's cases produced: all of them, or those finished before Ctrl-C."""

    results: list[Result]
    seconds: float
    run_id: str
    interrupted: bool = False


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _base_meta(
    args: argparse.Namespace, results: list[Result], started: str, run_id: str, seconds: float
) -> dict[str, Any]:
    return {
        "backend": args.backend,
        "started": started,
        "run_id": run_id,
        "duration_s": round(seconds, 1),
        "jobs": args.jobs,
        "command": command_line(args.argv),
        "versions": versions(results),
    }


def _meta(
    args: argparse.Namespace, axes: Axes, results: list[Result], total: int, started: str, run_id: str, seconds: float
) -> dict[str, Any]:
    """What results.json and the HTML header say about the run (in results.json's key order)."""
    return {
        **_base_meta(args, results, started, run_id, seconds),
        "axes": json.loads(json.dumps(dataclasses.asdict(axes), default=str)),
        "plan_total": total,
        "shard": str(args.shard) if args.shard else None,
        "options": {
            "rules": not args.no_rules,
            "prove_minimal": args.prove_minimal,
            "capture": args.capture,
            "trace": not args.no_trace,
            "early_stop": not (args.no_trace or args.no_early_stop),
        },
    }


def run_and_report(
    args: argparse.Namespace,
    console: Console,
    err: Console,
    work: Callable[[], tuple[list[Result], float, str]],
    show: Callable[[list[Result], float], bool],
    meta: Callable[[Finished, str], dict[str, Any]],
    order: Callable[[list[Result]], list[int]] | None = None,
    planned: int = 0,
    after: Callable[[list[Result]], None] | None = None,
) -> int:
    """The one path of matrix, reproduce and verify: run, show (unless interrupted), write
    --json and --report-dir, apply --fail-on. `show` returns True when the command's own
    gate tripped (reproduce: reality differs from `expect`); `after` writes the command's
    own files (also after an interrupt)."""
    started, t0 = _now(), time.monotonic()
    try:
        run = Finished(*work())
    except Interrupted as e:
        err.print(
            "[yellow]interrupted: every namespace and process of this run was removed; "
            f"{len(e.results)} of {e.planned} cases finished[/]"
        )
        run, planned = Finished(e.results, time.monotonic() - t0, e.run_id, True), e.planned
    own = False if run.interrupted else show(run.results, run.seconds)
    if after:
        after(run.results)
    info = {
        **meta(run, started),
        "planned": planned or len(run.results),
        **({"interrupted": True} if run.interrupted else {}),
    }
    idx = order(run.results) if order else None
    if args.json:
        jsonfile.write(args.json, run.results, args.backend, started, info, idx)
        console.print(f"results written to {args.json}")
    if args.report_dir:
        names = bundle.write(args.report_dir, run.results, info, run.seconds, idx)
        console.print(
            f"reports written to {args.report_dir}/: {', '.join(names)}"
            + (", cases/ (captures)" if getattr(args, "capture", False) else "")
        )
    written = args.json or (args.report_dir / "results.json" if args.report_dir else None)
    tripped = gates.tripped(run.results, args.fail_on)
    if written and args.command == "matrix" and any(r.verdict.outcome in ("fail", "error") for r in run.results):
        console.print(Text(f"re-run the failures: {command_line(['matrix', '--last-failed', str(written)])}"))
    if tripped:
        console.print(Text(f"--fail-on {args.fail_on}: {len(tripped)} case(s) tripped the gate", style="bold"))
    if run.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_CASE_ERROR if tripped or own else EXIT_OK


def cmd_matrix(args: argparse.Namespace, console: Console) -> int:
    try:
        catalog, names = topology_command.resolve(args.topology)
    except topology_command.UnknownTopology as e:
        raise UsageError(f"--topology: {e}") from None
    axes = Axes(
        topologies=names,
        modes=args.mode,
        tls=args.tls,
        pasv_address=args.pasv_address,
        masquerade=args.masquerade,
        servers=args.server,
        clients=args.client,
        passive=args.passive_range,
        net=path_args.netspec(
            args,
            NetSpec(
                None if args.forward_range == "none" else args.forward_range, forward_none=args.forward_range == "none"
            ),
        ),
        busy=args.busy_sessions,
        keepalive=args.keepalive,
        permit_foreign=args.permit_foreign_addresses,
        reuse=args.session_reuse,
        tls_versions=args.tls_version,
        transfers=args.transfers,
        verify_cert=args.verify_cert,
        families=args.family,
    )
    if args.no_rules and (args.rules or args.rules_md or args.prove_minimal):
        raise UsageError("--no-rules cannot be combined with --rules, --rules-md or --prove-minimal")
    if args.last_failed and not args.case and not failed_ids(args.last_failed):
        console.print(f"no case failed or errored in {args.last_failed}: nothing to re-run")
        return EXIT_OK
    cases, index = _planned(args, axes, catalog)
    if args.list:
        print("\n".join(c.id for c in cases))
        return EXIT_OK
    check_outputs(args)
    err = Console(stderr=True)
    if "none" in args.tls and set(args.session_reuse) - {"default"}:
        err.print(
            "note: --session-reuse only applies to TLS; cases with --tls none run once, with the server's default"
        )

    def work() -> tuple[list[Result], float, str]:
        if not cases:
            return [], 0.0, "empty"
        capture_dir = (args.report_dir or Path("reports")).resolve() if args.capture else None
        return execute(
            cases,
            backend=args.backend,
            jobs=args.jobs,
            repeat=args.repeat,
            record=args.record,
            rules=not args.no_rules,
            prove_minimal=args.prove_minimal,
            err=err,
            capture_dir=capture_dir,
            trace=not args.no_trace,
            early_stop=not args.no_early_stop,
            seconds=shard.durations(args.durations) if args.durations else None,
            catalog=catalog,
            before=lambda be: topology_command.preflight(catalog, names, be),
        )

    def show(results: list[Result], seconds: float) -> bool:
        console.print(terminal.matrix(results))
        if len({(r.case.server.impl, r.case.client.impl) for r in results}) > 1:
            console.print(terminal.peers(results))
        console.print(terminal.summary_line(results, seconds))
        terminal.failures(
            results, console, rerun=lambda c: rerun_command(c, topology_command.rerun_args(catalog, c.topology))
        )
        terminal.findings(results, console)
        if args.rules:
            rules_report.terminal(results, console)
        return False

    def rules_md(results: list[Result]) -> None:
        if args.rules_md and not args.no_rules:
            args.rules_md.parent.mkdir(parents=True, exist_ok=True)
            args.rules_md.write_text(bundle.rules_markdown(results, True))
            console.print(f"rules written to {args.rules_md}")

    return run_and_report(
        args,
        console,
        err,
        work,
        show,
        lambda run, started: _meta(args, axes, run.results, len(index), started, run.run_id, run.seconds),
        order=lambda results: [index[r.case.id] for r in results],
        planned=len(cases),
        after=rules_md,
    )


def cmd_merge(args: argparse.Namespace, console: Console) -> int:
    results, meta, order, seconds = merge(list(args.parts), args.report_dir)
    names = bundle.write(args.report_dir, results, meta, seconds, order)
    console.print(terminal.summary_line(results, seconds))
    console.print(
        f"merged {len(args.parts)} part(s), {len(results)} cases; "
        f"reports written to {args.report_dir}/: {', '.join(names)}"
    )
    return EXIT_OK


def cmd_compare(args: argparse.Namespace, console: Console) -> int:
    changes = compare.compare(args.old, args.new)
    if args.json:
        print(json.dumps(compare.as_json(changes), indent=1))
    elif changes:
        console.print(compare.table(changes, args.old, args.new))
    else:
        console.print(f"no case changed outcome, stage or check between {args.old} and {args.new}")
    return EXIT_CASE_ERROR if any(c.regression for c in changes) else EXIT_OK


def _options(args: argparse.Namespace) -> dict[str, bool]:
    return {"rules": True, "prove_minimal": getattr(args, "prove_minimal", False), "capture": False, "trace": True}


def cmd_reproduce(args: argparse.Namespace, console: Console) -> int:
    if bool(args.files) == bool(args.from_files):
        raise UsageError("reproduce: give scenario FILEs, or --from with a ticket's files (not both)")
    check_outputs(args)
    imported, verdict = None, None
    if args.from_files:
        folder = args.report_dir or scratch.make()
        got = ticket_command.for_reproduce(args.from_files, folder, console)
        if got is None:
            return EXIT_CASE_ERROR
        args.files, imported = [got[0]], got[1]
    sc = scenario.load_all(args.files, args.topology)
    for one in sc.scenarios:
        if one.waits_for:
            console.print(f"{one.path}: waits for {one.waits_for}; nothing to run yet")
        elif one.story:
            console.print(Text(one.story, style="italic"))
    if not sc.cases:
        return EXIT_OK
    err = Console(stderr=True)
    attempts: list[reproduce.Attempt] = []

    def work() -> tuple[list[Result], float, str]:
        names = sorted({c.topology for c in sc.cases})
        results, seconds, run_id = execute(
            sc.cases,
            backend=args.backend,
            jobs=args.jobs,
            repeat=args.repeat,
            label="scenario",
            err=err,
            capture_dir=(args.report_dir or Path("reports")).resolve() if args.capture else None,
            catalog=sc.catalog,
            before=lambda be: topology_command.preflight(sc.catalog, names, be),
        )
        attempts.extend([] if args.no_fixes else reproduce.plan_fixes(results))
        if attempts:
            unique = list({a.case.id: a.case for a in attempts}.values())
            fixed, _, _ = execute(
                unique,
                backend=args.backend,
                jobs=args.jobs,
                repeat=args.repeat,  # a fix is proven as often as the failure was seen
                label="fixes",
                err=err,
                prove_minimal=args.prove_minimal,
                catalog=sc.catalog,
            )
            by_id = {r.case.id: r for r in fixed}
            for a in attempts:
                a.result = by_id.get(a.case.id)
        return results, seconds, run_id

    def show(results: list[Result], seconds: float) -> bool:
        nonlocal verdict
        if imported is not None:
            verdict = ticket_command.judge(imported, results)
            reproduce.report(results, attempts, console, ticket_command.headline(verdict))
            return not verdict.reproduced
        reproduce.report(results, attempts, console)
        differs = sc.check(results)
        for r, why in differs:
            console.print(Text.assemble(("reality differs from expect: ", "bold red"), f"{r.case.id}: {why}"))
        if sc.expectations and not differs:
            console.print(Text("expect: every expectation held", style="bold green"))
        return bool(differs)

    return run_and_report(
        args,
        console,
        err,
        work,
        show,
        lambda run, started: {
            **_base_meta(args, run.results, started, run.run_id, run.seconds),
            "scenario": ", ".join(map(str, args.files)),
            "options": _options(args),
            **({"ticket": ticket_command.meta(imported, verdict, args.files[0])} if imported else {}),
        },
        planned=len(sc.cases),
    )


def cmd_verify(args: argparse.Namespace, console: Console) -> int:
    from harness.verify import advise
    from harness.verify import report as verify_report

    be = get_backend(args.backend)
    be.preflight()
    check_outputs(args)
    if args.patch_dir:
        inputs.writable_dir(args.patch_dir, "--patch-dir")
    p = verify.load(args.plan, be, args.topology)
    if p.story:
        console.print(Text(p.story, style="italic"))
    verify.introduce(p, console)
    err = Console(stderr=True)
    advice: list[advise.Advice] = []

    def run(cases: list[Case], label: str, rules: bool = False) -> list[Result]:
        return execute(
            cases, backend=args.backend, jobs=args.jobs, label=label, err=err, rules=rules, catalog=p.catalog
        )[0]

    def work() -> tuple[list[Result], float, str]:
        try:
            results, seconds, run_id = execute(
                p.cases, backend=args.backend, jobs=args.jobs, label="plan", err=err, catalog=p.catalog
            )
            failing = [r for r in results if r.verdict.outcome == "fail"]
            if failing:
                reference: list[Result] = []
                if p.reference is not None:  # a layout: its shipped firewall proves what the box needs
                    ref_cases = list(
                        {c.id: c for c in (dataclasses.replace(r.case, topology=p.reference) for r in failing)}.values()
                    )
                    reference = run(ref_cases, "reference", rules=True)
                advice.extend(advise.prove(p, failing, reference, lambda cases, rules: run(cases, "candidates", rules)))
            return results, seconds, run_id
        finally:
            assert p.workdir is not None, "verify.load() made it"
            shutil.rmtree(p.workdir, ignore_errors=True)

    def show(results: list[Result], seconds: float) -> bool:
        verify_report.report(p, results, advice, console)
        return False

    def patches(results: list[Result]) -> None:
        folder = args.patch_dir or (args.report_dir / "patches" if args.report_dir and advice else None)
        if folder:
            for path, command in verify_report.write_patches(p, advice, folder):
                console.print(f"proven change written to {path} (apply with: {command})")

    return run_and_report(
        args,
        console,
        err,
        work,
        show,
        lambda run, started: {
            **_base_meta(args, run.results, started, run.run_id, run.seconds),
            "plan": str(args.plan),
            "advice": [a.to_json() for a in advice],
            "options": _options(args),
        },
        planned=len(p.cases),
        after=patches,
    )


COMMANDS = {
    "matrix": cmd_matrix,
    "clean": cmd_clean,
    "list": cmd_list,
    "rules": cmd_rules,
    "reproduce": cmd_reproduce,
    "verify": cmd_verify,
    "merge": cmd_merge,
    "compare": cmd_compare,
    "probe": probe_command.run,
    "topology": topology_command.run,
    "import": ticket_command.run,
}
NEEDS_ROOT = {"matrix", "clean", "reproduce", "verify"}


# --- privileges -----------------------------------------------------------------


def reexec_in_userns(argv: Sequence[str]) -> int:
    """Without root: re-run inside a user+net+mount namespace with a private /run."""
    if os.environ.get("FTPS_HARNESS_USERNS") == "1":
        print("error: still not root inside the user namespace; cannot build namespaces", file=sys.stderr)
        return EXIT_USAGE
    unshare = shutil.which("unshare")
    if unshare is None:
        print(
            "error: not root, and `unshare` (util-linux) is missing, so the harness cannot "
            "make a user namespace. Run as root, or install util-linux.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    env = dict(os.environ, FTPS_HARNESS_USERNS="1", **{PROGRAM_ENV: shlex.join(program())})
    script = 'mount -t tmpfs tmpfs /run && exec "$@"'
    cmd = [
        unshare,
        "--user",
        "--map-root-user",
        "--net",
        "--mount",
        "--",
        "sh",
        "-c",
        script,
        "sh",
        sys.executable,
        "-m",
        "harness",
        *argv,
    ]
    try:
        os.execve(unshare, cmd, env)
    except OSError as e:
        print(
            f"error: cannot start a user namespace ({e}). Run as root, or allow unprivileged "
            "user namespaces (sysctl kernel.unprivileged_userns_clone=1).",
            file=sys.stderr,
        )
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)  # exits 2 with a message on bad input
    args.argv = argv
    needs_root = args.command in NEEDS_ROOT or (args.command == "topology" and args.verb == "check")
    if needs_root and os.geteuid() != 0 and not getattr(args, "list", False):
        return reexec_in_userns(argv)
    console = Console() if sys.stdout.isatty() else Console(width=150)  # CI logs: no wrapping

    signals.install()
    try:
        return COMMANDS[args.command](args, console)
    except inputs.InputError as e:
        Console(stderr=True).print(f"[red]error:[/] {e}", highlight=False)
        return EXIT_USAGE
    except (BackendUnavailable, UsageError, SelectionError) as e:
        Console(stderr=True, soft_wrap=True).print(Text.assemble(("error: ", "red"), str(e)))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `python -m harness rules … | head`
        sys.stderr.close()
        return EXIT_OK
    except Exception as e:
        if os.environ.get("FTPS_HARNESS_DEBUG"):
            raise
        Console(stderr=True).print(
            f"[red]internal error (a bug in the harness):[/] {type(e).__name__}: {e}\n"
            "Run again with FTPS_HARNESS_DEBUG=1 to see the traceback."
        )
        return EXIT_BROKEN
    finally:
        signals.exiting()


def main_exit() -> None:
    """The `ftps-harness` console script."""
    sys.exit(main())
