"""make bench: what the default matrix costs, against the performance goals, in one run.

`python bench/bench.py` (make bench; about 10 minutes on 2 cores) prints, and writes
reports/bench.json:
- one explicit-FTPS session on loopback (1 MiB up and down, verified), the ftplib agent in-process
  (the bare session the goals compare with) and as a fresh interpreter;
- the default matrix at --jobs 2 (rules proven, tracing on), with its per-phase breakdown;
  the same with --no-early-stop, --no-trace and --no-rules (the cost of tracing, measured
  without the early stop it enables, the saving of early stop, and the cost of rule proofs);
  round 1's 450-case set (ROUND1);
- the throughput of a 100 MiB FTPS transfer on the direct path and through NAT, with and
  without the FTP helper (bench/throughput.py);
- topology setup and a few cases on the netns and Docker backends (when Docker answers);
- the goals: each with the figure measured, met or missed, and the margin (bench/goals.py).

Other modes: `full` (also --jobs 1, --prove-minimal, --capture and two more rounds of the
tracing cost), `trace` (only the tracing cost, in alternated rounds), `peers` (the two
matrices of `make test-matrix-peers`, timed against the 5-minute goal, merged into
reports/bench.json). BENCH_MATRIX_ARGS (e.g. "--topology server-nat") is appended to every
matrix run, to check the bench itself on a few cases: such figures are not the goals'.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import certs
from bench import goals, throughput
from clients.python_ftplib import agent
from harness.cli import default_jobs
from harness.core import (
    codec,
    timing,
)

DEFAULT_JOBS = default_jobs()

OUT = REPO / "reports" / "bench.json"
# Round 1's default matrix (450 cases): the 15 topologies before IPv6 and dual-stack-edge, IPv4.
ROUND1 = (
    "--family",
    "ipv4",
    "--topology",
    "direct,server-nat,server-nat-alg,client-nat,client-nat-alg,server-multihomed,"
    "server-multihomed-map,server-multihomed-pbr,server-multihomed-route,lb-roundrobin,"
    "lb-source,lb-nft-roundrobin,lb-nft-source,client-multiwan,client-multiwan-sticky",
)
# The two matrices of `make test-matrix-peers` (Makefile: test-matrix-peers, test-matrix-peers-tls).
PEERS = (
    (
        "core",
        (
            "--server",
            "all",
            "--client",
            "all",
            "--topology",
            "direct,server-nat,server-nat-alg,client-nat,client-nat-alg",
        ),
    ),
    (
        "tls",
        (
            "--server",
            "all",
            "--client",
            "all",
            "--topology",
            "direct,server-nat-alg,client-nat-alg",
            "--family",
            "ipv4",
            "--tls",
            "explicit,ccc",
            "--tls-version",
            "1.2,1.3",
            "--transfers",
            "2",
            "--mode",
            "pasv,epsv,port",
            "--pasv-address",
            "trust",
            "--masquerade",
            "off",
        ),
    ),
)
PEERS_GOAL_S, SHARD_GOAL_S, SHARDS = goals.PEERS_GOAL_S, goals.SHARD_GOAL_S, goals.SHARDS
TEST_TIMEOUT_S = 3600  # bench.py test: a hung test run is stopped, not waited for


def narrowed() -> list[str]:
    return shlex.split(os.environ.get("BENCH_MATRIX_ARGS", ""))


def children_cpu_s() -> float:
    """User + sys seconds of every child reaped so far (the harness and, through it, its own)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def matrix(*extra: str, jobs: int = DEFAULT_JOBS, report_dir: Path | None = None, keep: bool = False) -> dict:
    """One `ftps-harness matrix` run (BENCH_MATRIX_ARGS appended): wall and CPU time, cases, phases."""
    folder = report_dir or Path(tempfile.mkdtemp(prefix="bench-"))
    out = ["--report-dir", str(folder)] if report_dir else ["--json", str(folder / "results.json")]
    argv = [sys.executable, "-m", "harness", "matrix", "--jobs", str(jobs), *out, *extra, *narrowed()]
    cpu0, t0 = children_cpu_s(), time.monotonic()
    r = subprocess.run(argv, cwd=REPO, capture_output=True, text=True)
    wall, cpu = time.monotonic() - t0, children_cpu_s() - cpu0
    if r.returncode not in (0, 1):
        sys.exit(f"{shlex.join(argv[2:])} failed (exit {r.returncode}):\n{r.stderr[-2000:]}")
    doc = json.loads((folder / "results.json").read_text())
    if not report_dir and not keep:
        shutil.rmtree(folder, ignore_errors=True)
    per_case = [c["duration_s"] for c in doc["cases"]] or [0.0]
    n = max(len(doc["cases"]), 1)
    return {
        "jobs": jobs,
        "options": " ".join((*extra, *narrowed())) or "(default: rules proven, tracing on)",
        "cases": len(doc["cases"]),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_per_case_ms": round(1000 * cpu / n, 1),
        "cores_busy": round(cpu / wall, 2) if wall else 0.0,
        **({"results": str(folder / "results.json")} if keep else {}),
        "median_case_s": round(statistics.median(per_case), 4),
        "amortized_case_s": round(wall / max(len(doc["cases"]), 1), 4),
        "summary": doc["summary"],
        "unnamed": [c["id"] for c in doc["cases"] if c.get("check") == "other-failure"],
        "errors": [f"{c['id']}: {c['diagnosis'][:300]}" for c in doc["cases"] if c["outcome"] == "error"],
        "phases_s": {k: round(v, 2) for k, v in timing.totals(c.get("phases", {}) for c in doc["cases"]).items()},
    }


def show(label: str, m: dict) -> None:
    for e in m.get("errors", [])[:5]:
        print(f"  error: {e}")
    print(
        f"{label:<34} {m['cases']:4} cases {m['wall_s']:7.1f} s wall, {m.get('cpu_s', 0):6.1f} s CPU "
        f"({m.get('cpu_per_case_ms', 0):4.0f} ms CPU/case, {m.get('cores_busy', 0):.1f} cores busy; amortized "
        f"{m['amortized_case_s'] * 1000:4.0f} ms/case; median case {m['median_case_s'] * 1000:4.0f} ms)  "
        + ", ".join(f"{v} {k}" for k, v in m["summary"].items())
    )


def loopback_session(rounds: int = 5) -> dict:
    """A pyftpdlib server on 127.0.0.1 (ephemeral port) and the ftplib agent, explicit TLS + PASV."""
    paths = certs.ensure()
    work = Path(tempfile.mkdtemp())
    cfg = {
        "bind": "127.0.0.1",
        "port": 0,
        "tls": "explicit",
        "passive": [61000, 61009],
        "masquerade": None,
        "cert": str(paths.cert),
        "key": str(paths.key),
        "home": str(work / "home"),
        "user": "u",
        "password": "p",
        "log": str(work / "log"),
    }
    t0 = time.monotonic()
    srv = subprocess.Popen(
        [sys.executable, "-m", "servers.pyftpdlib_embedded", json.dumps(cfg)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    port = int(srv.stdout.readline().split()[1])
    server_ready = time.monotonic() - t0
    req = agent.Request(
        host="127.0.0.1",
        port=port,
        tls="explicit",
        mode="pasv",
        pasv_address="trust",
        ca=str(paths.ca),
        user="u",
        password="p",
        timeout=5.0,
        size=1 << 20,
    )
    try:
        warm = []
        for _ in range(rounds):
            t = time.monotonic()
            rep = agent.run(req)
            warm.append(time.monotonic() - t)
            assert rep.ok, rep.failure
        cold = []
        for _ in range(rounds):
            t = time.monotonic()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "clients.python_ftplib.agent",
                    "--request",
                    json.dumps(codec.encode(req, agent.Request)),
                ],
                cwd=REPO,
                check=True,
                capture_output=True,
            )
            cold.append(time.monotonic() - t)
    finally:
        srv.terminate()
        srv.wait(5)
        shutil.rmtree(work, ignore_errors=True)
    return {
        "server_ready_s": round(server_ready, 3),
        "session_warm_median_s": round(statistics.median(warm), 4),
        "session_cold_median_s": round(statistics.median(cold), 4),
    }


def backends_compared(rounds: int = 3) -> dict | None:
    """Topology setup+teardown and a few server-nat cases on netns and docker, in the same run."""
    from harness.build import topologies
    from harness.build.backends import get
    from harness.build.backends.base import BackendUnavailable
    from harness.core.case import ServerSpec

    try:
        docker_be = get("docker")
        docker_be.preflight()
    except BackendUnavailable as e:
        print(f"netns/Docker: skipped, {e}")
        return None
    out: dict = {}
    topo = topologies.build("server-nat", ServerSpec())
    for name, be in (("netns", get("netns")), ("docker", docker_be)):
        times = []
        for i in range(rounds):
            t = time.monotonic()
            lab = be.build(topo, f"fth-bench{os.getpid()}-{name}{i}")
            up = time.monotonic() - t
            t = time.monotonic()
            lab.teardown()
            times.append((up, time.monotonic() - t))
        m = matrix(
            "--backend", name, "--no-rules", "--topology", "server-nat", "--family", "ipv4", "--tls", "explicit", jobs=1
        )
        out[name] = {
            "setup_s": round(statistics.median(u for u, _ in times), 3),
            "teardown_s": round(statistics.median(d for _, d in times), 3),
            "cases": m["cases"],
            "matrix_wall_s": m["wall_s"],
            "median_case_s": m["median_case_s"],
        }
    n, d = out["netns"], out["docker"]
    out["docker_over_netns"] = {
        "setup": round(d["setup_s"] / max(n["setup_s"], 1e-3), 1),
        "setup_and_teardown": round((d["setup_s"] + d["teardown_s"]) / max(n["setup_s"] + n["teardown_s"], 1e-3), 1),
        "matrix": round(d["matrix_wall_s"] / max(n["matrix_wall_s"], 1e-3), 1),
    }
    for name in ("netns", "docker"):
        v = out[name]
        print(
            f"{name:6}: topology setup {v['setup_s'] * 1000:6.0f} ms, teardown {v['teardown_s'] * 1000:5.0f} ms, "
            f"{v['cases']} server-nat cases {v['matrix_wall_s']:.1f} s (median case {v['median_case_s'] * 1000:.0f} ms)"
        )
    r = out["docker_over_netns"]
    print(
        f"Docker/netns: {r['setup']:.0f}x to set up a topology ({r['setup_and_teardown']:.0f}x with teardown), "
        f"{r['matrix']:.1f}x for the cases"
    )
    return out


def trace_rounds(rounds: int = 2) -> dict:
    """The default matrix at --jobs 2, traced and with --no-trace, alternated."""
    traced, untraced = [], []
    for _ in range(rounds):
        traced.append(matrix()["wall_s"])
        untraced.append(matrix("--no-trace")["wall_s"])
    t, u = statistics.median(traced), statistics.median(untraced)
    cost = goals.share_pct(t, u)
    print(
        f"tracing over {rounds} alternated rounds: {t:.1f} s traced, {u:.1f} s with --no-trace "
        f"(medians): {cost:.1f} % of the traced run"
    )
    return {"traced_wall_s": traced, "untraced_wall_s": untraced, "cost_pct": cost}


def show_throughput(tp: dict) -> None:
    print(
        f"one {tp['size_bytes'] >> 20} MiB explicit-FTPS transfer (PASV, ftplib, pyftpdlib), "
        "median MB/s (10^6 bytes/s):"
    )
    for path, v in tp["paths"].items():
        print(
            f"  {path:<15} upload {v['upload_MBps']:7.1f}  download {v['download_MBps']:7.1f}  ({v['rounds']} rounds)"
        )
    for pair, v in tp["ratios"].items():
        print(f"  {pair:<22} upload {v['upload_MBps']:.2f}x  download {v['download_MBps']:.2f}x")
    for path, why in tp["errors"].items():
        print(f"  {path}: FAILED at {why}")


def default(res: dict, full: bool) -> None:
    lb = res["loopback"] = loopback_session()
    print("one explicit-FTPS session on loopback (1 MiB up + LIST + 1 MiB down, SHA-256 checked):")
    print(f"  warm (agent in-process):    {lb['session_warm_median_s'] * 1000:7.1f} ms median (the bare session)")
    print(f"  cold (fresh interpreter):   {lb['session_cold_median_s'] * 1000:7.1f} ms median")
    print(f"  pyftpdlib server ready in:  {lb['server_ready_s'] * 1000:7.1f} ms\n")
    runs = res["matrix"] = {}
    for key, label, extra in (
        ("default", f"default matrix (--jobs {DEFAULT_JOBS})", ()),
        ("no_early_stop", "  --no-early-stop", ("--no-early-stop",)),
        ("no_trace", "  --no-trace", ("--no-trace",)),
        ("no_rules", "  --no-rules", ("--no-rules",)),
        ("round1", "round 1's set (ROUND1)", ROUND1),
    ):
        runs[key] = matrix(*extra)
        show(label, runs[key])
    for jobs in sorted({2, max(1, DEFAULT_JOBS // 2)} - {DEFAULT_JOBS}):  # fewer labs than the default
        runs[f"jobs{jobs}"] = matrix(jobs=jobs)
        show(f"  --jobs {jobs}", runs[f"jobs{jobs}"])
    res["bound"] = bound(runs)
    print("  " + res["bound"]["says"])
    if not narrowed() and runs["round1"]["cases"] != 450:
        print(f"  note: ROUND1 planned {runs['round1']['cases']} cases, not round 1's 450")
    if full:
        cap_dir = Path(tempfile.mkdtemp(prefix="bench-capture-"))
        for key, extra, jobs in (
            ("jobs1", (), 1),
            ("prove_minimal", ("--prove-minimal",), DEFAULT_JOBS),
            ("capture", ("--capture", "--report-dir", str(cap_dir)), DEFAULT_JOBS),
        ):
            runs[key] = matrix(*extra, jobs=jobs)
            show(f"  --{key.replace('_', '-')}" if jobs != 1 else "  --jobs 1", runs[key])
        shutil.rmtree(cap_dir, ignore_errors=True)
    d = runs["default"]
    res["phases_s"] = d["phases_s"]
    print("\n" + timing.summary([d["phases_s"]]).replace("summed over workers", "default matrix, summed over workers"))
    res["ratio_to_bare"] = round(d["amortized_case_s"] / lb["session_warm_median_s"], 2)
    print(f"amortized case {d['amortized_case_s'] * 1000:.0f} ms = {res['ratio_to_bare']:.1f}x the bare session")
    # Tracing's own cost is measured without early stop (which needs the trace and saves
    # time); the net effect of both is the default run against --no-trace.
    waited, untraced = runs["no_early_stop"]["wall_s"], runs["no_trace"]["wall_s"]
    res["trace_cost_pct"] = goals.share_pct(waited, untraced)
    res["trace_net_pct"] = goals.share_pct(d["wall_s"], untraced)
    res["early_stop_saving_pct"] = goals.share_pct(waited, d["wall_s"])
    res["proof_cost_pct"] = goals.share_pct(d["wall_s"], runs["no_rules"]["wall_s"])
    print(
        f"tracing: {waited:.1f} s on (--no-early-stop), {untraced:.1f} s off = {res['trace_cost_pct']:.1f} % "
        f"of the traced run; with early stop (the default) {d['wall_s']:.1f} s = {res['trace_net_pct']:+.1f} % net"
    )
    print(
        f"early stop (failures detected from the trace and the helper's log): saves "
        f"{res['early_stop_saving_pct']:.1f} % of the run that waits every timeout out"
    )
    print(
        f"rule proofs: {d['wall_s']:.1f} s on, {runs['no_rules']['wall_s']:.1f} s off = "
        f"{res['proof_cost_pct']:.1f} % of the default run"
    )
    for key in ("prove_minimal", "capture"):
        if key in runs:
            print(f"added cost of --{key.replace('_', '-')}: {runs[key]['wall_s'] - d['wall_s']:+.1f} s")
    if full:
        res["trace_rounds"] = trace_rounds()
    print()
    try:
        res["throughput"] = throughput.measure()
        show_throughput(res["throughput"])
    except Exception as e:
        res["throughput"] = {"error": f"{type(e).__name__}: {e}"}
        print(f"throughput: failed, {res['throughput']['error']}")
    print()
    try:
        cmp = backends_compared()
    except Exception as e:
        print(f"netns/Docker: failed, {type(e).__name__}: {e}")
        cmp = {"error": f"{type(e).__name__}: {e}"}
    if cmp:
        res["backends"] = cmp


def bound(runs: dict) -> dict:
    """Bound by CPU or by waiting: the default matrix at each job count, wall against CPU."""
    by_jobs = {r["jobs"]: r for k, r in runs.items() if k == "default" or k.startswith("jobs")}
    fastest = min(by_jobs.values(), key=lambda r: r["wall_s"])
    lo, hi = by_jobs[min(by_jobs)], by_jobs[DEFAULT_JOBS]  # --jobs 2 (or 1) against the default
    gain = goals.share_pct(lo["wall_s"], hi["wall_s"])
    kind = "waiting" if gain >= 10 else "CPU"
    says = (
        f"bound by {kind}: --jobs {hi['jobs']} is {abs(gain):.1f} % {'faster' if gain >= 0 else 'slower'} than --jobs {lo['jobs']} "
        f"({hi['wall_s']:.1f} s against {lo['wall_s']:.1f} s) for {hi['cpu_s']:.1f} s of CPU against "
        f"{lo['cpu_s']:.1f} s; the fastest is --jobs {fastest['jobs']}"
        + (" (the default)" if fastest["jobs"] == DEFAULT_JOBS else f", not the default {DEFAULT_JOBS}")
    )
    if kind == "CPU":
        cores = os.cpu_count() or 1
        floor = lo["cpu_s"] / cores
        says += f"; on {cores} cores the CPU alone sets a floor of {floor:.1f} s"
    return {"kind": kind, "gain_pct": gain, "fastest_jobs": fastest["jobs"], "says": says}


def peers(res: dict, shards: int = SHARDS) -> None:
    """`make test-matrix-peers` as CI runs it: each of its two matrices in `shards` parts, one part
    after another on this machine, then merged. A CI job runs part i of both matrices; the whole
    on one machine is the sum of the parts."""
    parts: list[dict] = []
    merged_s = 0.0
    for name, args in PEERS:
        dirs = []
        for i in range(1, shards + 1):
            report_dir = Path(tempfile.mkdtemp(prefix=f"bench-peers-{name}-{i}-"))
            m = matrix(*args, "--shard", f"{i}/{shards}", report_dir=report_dir)
            m["split"] = split(report_dir / "results.json")
            show(f"peers: {name} {i}/{shards}", m)
            parts.append({"name": name, "shard": i, **m})
            dirs.append(report_dir)
        merged = Path(tempfile.mkdtemp(prefix=f"bench-peers-{name}-merged-"))
        t0 = time.monotonic()
        r = subprocess.run(
            [sys.executable, "-m", "harness", "merge", "--report-dir", str(merged), *map(str, dirs)],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        merged_s += time.monotonic() - t0
        if r.returncode not in (0, 1):
            print(f"peers: merging {name} failed (exit {r.returncode}): {r.stderr[-500:]}")
        for d in (*dirs, merged):
            shutil.rmtree(d, ignore_errors=True)
    total = {k: sum(p["summary"].get(k, 0) for p in parts) for k in ("pass", "fail", "skip", "error")}
    ci_jobs = [round(sum(p["wall_s"] for p in parts if p["shard"] == i), 2) for i in range(1, shards + 1)]
    res["peers"] = {
        "measured_at": _now(),
        "narrowed_by": " ".join(narrowed()),
        "goal_s": PEERS_GOAL_S,
        "shard_goal_s": SHARD_GOAL_S,
        "wall_s": round(sum(p["wall_s"] for p in parts), 2),
        "cpu_s": round(sum(p["cpu_s"] for p in parts), 2),
        "cases": sum(p["cases"] for p in parts),
        "summary": total,
        "ci_jobs_s": ci_jobs,
        "merge_s": round(merged_s, 2),
        "parts": parts,
        "by_client_s": _summed(parts, "client"),
        "by_server_s": _summed(parts, "server"),
        "phases_s": {k: round(sum(p["phases_s"].get(k, 0) for p in parts), 2) for k in timing.PHASES},
    }
    p = res["peers"]
    print(
        f"make test-matrix-peers: {p['cases']} cases in {p['wall_s']:.1f} s on one machine (goal <= {PEERS_GOAL_S} s); "
        f"as {shards} CI jobs: {', '.join(f'{s:.0f} s' for s in ci_jobs)} (goal <= {SHARD_GOAL_S} s each), "
        f"merges {p['merge_s']:.1f} s"
    )
    unnamed = [i for part in parts for i in part["unnamed"]]
    print(
        f"  other-failure (a failure the harness could not name): {len(unnamed)}"
        + "".join(f"\n    {i}" for i in unnamed[:20])
    )
    for key in ("by_client_s", "by_server_s"):
        print(f"  case time {key[3:-2]} by {key[3:-2]}: " + ", ".join(f"{k} {v:.0f} s" for k, v in p[key].items()))
    print(timing.summary([p["phases_s"]]))


def split(results: Path) -> dict[str, dict[str, float]]:
    """Case seconds summed per client and per server (their share of a run's work)."""
    out: dict[str, dict[str, float]] = {"client": {}, "server": {}}
    for c in json.loads(results.read_text())["cases"]:
        for axis in out:
            name = c["case"][axis] if "case" in c else c[axis]
            out[axis][name] = out[axis].get(name, 0.0) + c["duration_s"]
    return out


def _summed(parts: list[dict], axis: str) -> dict[str, float]:
    total: dict[str, float] = {}
    for p in parts:
        for k, v in p["split"][axis].items():
            total[k] = round(total.get(k, 0.0) + v, 1)
    return dict(sorted(total.items(), key=lambda kv: -kv[1]))


def make_test() -> dict:
    """`make test`'s pytest run, timed (the venv and the peers are installed already)."""
    workers = os.environ.get("TEST_WORKERS", "4")
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", workers, "--dist", "loadfile"]
    t0 = time.monotonic()
    try:
        r = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=TEST_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        sys.exit(f"bench: make test's pytest run took over {TEST_TIMEOUT_S} s and was stopped; nothing written")
    wall = time.monotonic() - t0
    tail = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", tail)}
    print(f"make test (pytest -n {workers}): {wall:.1f} s, exit {r.returncode}: {tail}")
    return {
        "measured_at": _now(),
        "workers": workers,
        "wall_s": round(wall, 2),
        "exit": r.returncode,
        "passed": counts.get("passed", 0),
        "failed": counts.get("failed", 0),
        "summary": tail,
    }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "default"
    if sys.argv[2:] or mode not in ("default", "full", "trace", "peers", "test"):
        print(
            "usage: python bench/bench.py [full | trace | peers | test]  (see the module's docstring)", file=sys.stderr
        )
        return 2
    if os.geteuid() != 0:
        print("bench needs root (it runs the real matrix in namespaces)", file=sys.stderr)
        return 2
    try:
        earlier = json.loads(OUT.read_text())
    except (OSError, ValueError):
        earlier = {}
    print(
        f"benchmark ({mode}) on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
        + (f"; every matrix narrowed by BENCH_MATRIX_ARGS={' '.join(narrowed())}" if narrowed() else "")
        + "\n"
    )
    if mode in ("trace", "peers", "test"):
        res = earlier
        if mode == "trace":
            res["trace_rounds"] = {"measured_at": _now(), **trace_rounds()}
        elif mode == "test":
            res["make_test"] = make_test()
        else:
            peers(res)
    else:
        res = {
            "measured_at": _now(),
            "mode": mode,
            "cores": os.cpu_count(),
            "narrowed_by": " ".join(narrowed()),
            "load_average_start": round(os.getloadavg()[0], 2),
        }
        for key in ("peers", "make_test"):  # separate, longer runs: kept with their own dates
            if key in earlier:
                res[key] = earlier[key]
        default(res, full=mode == "full")
        res["load_average_end"] = round(os.getloadavg()[0], 2)
    res["goals"] = [g.as_dict() for g in goals.goals(res)]
    print("\nPerformance goals" + (" -- NARROWED run: not the goals' matrix" if res.get("narrowed_by") else "") + ":")
    print("\n".join(goals.render(goals.goals(res))))
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1))
    print(f"\nwritten to {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the matrix runs and labs have cleaned up after themselves
        print("\nbench interrupted: nothing written", file=sys.stderr)
        sys.exit(130)
