"""make bench: what the default matrix costs, and what one FTPS session costs bare.

Prints, and writes reports/bench.json (`python bench/bench.py trace`: only the cost of tracing):
- the median wall time per case (as the runner measured it);
- the total wall time of the default matrix at --jobs 1 and --jobs 2 (rules derived and
  verified by replay, the default), without rules, and with --prove-minimal;
- the cost of tracing (`nft monitor trace` in every middlebox, the default): the default
  matrix at --jobs 2 with and without --no-trace, run in alternation to share the noise;
- one explicit-FTPS session (1 MiB up and down, verified) on loopback: in-process (warm)
  and as a fresh interpreter (cold), for comparison.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import certs  # noqa: E402
from clients import ftplib_probe  # noqa: E402
from harness import timing  # noqa: E402


def matrix(jobs: int, *extra: str) -> dict:
    out = Path(tempfile.mkdtemp()) / "results.json"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "harness", "matrix", "--jobs", str(jobs),
                        "--json", str(out), *extra], cwd=REPO, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if r.returncode not in (0, 1):
        sys.exit(f"matrix --jobs {jobs} failed:\n{r.stderr[-2000:]}")
    doc = json.loads(out.read_text())
    per_case = [c["duration_s"] for c in doc["cases"]]
    return {"jobs": jobs, "options": " ".join(extra) or "(default: rules verified)",
            "cases": len(per_case), "wall_s": round(wall, 2),
            "median_case_s": round(statistics.median(per_case), 4),
            "amortized_case_s": round(wall / len(per_case), 4), "summary": doc["summary"],
            "phases_s": {k: round(v, 2) for k, v in timing.totals(c.get("phases", {}) for c in doc["cases"]).items()}}


def loopback_session(rounds: int = 5) -> dict:
    """A pyftpdlib server on 127.0.0.1 (ephemeral port) and the probe, explicit TLS + PASV."""
    paths = certs.ensure()
    work = Path(tempfile.mkdtemp())
    cfg = {"bind": "127.0.0.1", "port": 0, "tls": "explicit", "passive": [61000, 61009],
           "masquerade": None, "cert": str(paths.cert), "key": str(paths.key),
           "home": str(work / "home"), "user": "u", "password": "p", "log": str(work / "log")}
    t0 = time.monotonic()
    srv = subprocess.Popen([sys.executable, "-m", "servers.pyftpdlib_embedded", json.dumps(cfg)],
                           cwd=REPO, stdout=subprocess.PIPE, text=True)
    port = int(srv.stdout.readline().split()[1])
    server_ready = time.monotonic() - t0
    req = {"host": "127.0.0.1", "port": port, "tls": "explicit", "mode": "pasv",
           "pasv_address": "trust", "ca": str(paths.ca), "user": "u", "password": "p",
           "timeout": 5.0, "size": 1 << 20}
    try:
        warm = []
        for _ in range(rounds):
            t = time.monotonic()
            rep = ftplib_probe.run(req)
            warm.append(time.monotonic() - t)
            assert rep.ok, rep.failure
        cold = []
        for _ in range(rounds):
            t = time.monotonic()
            subprocess.run([sys.executable, "-m", "clients.ftplib_probe", "--request", json.dumps(req)],
                           cwd=REPO, check=True, capture_output=True)
            cold.append(time.monotonic() - t)
    finally:
        srv.terminate()
        srv.wait(5)
    return {"server_ready_s": round(server_ready, 3),
            "session_warm_median_s": round(statistics.median(warm), 4),
            "session_cold_median_s": round(statistics.median(cold), 4)}


def backends_compared(rounds: int = 3) -> dict | None:
    """Topology setup+teardown and per-case time on netns and docker, in the same run."""
    from harness import topologies
    from harness.backends import get
    from harness.backends.base import BackendUnavailable
    from harness.model import ServerSpec
    try:
        docker_be = get("docker")
        docker_be.preflight()
    except BackendUnavailable as e:
        print(f"docker backend: skipped ({e})")
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
        m = matrix(1, "--backend", name, "--no-rules", "--topology", "server-nat", "--tls", "explicit")
        out[name] = {"setup_s": round(statistics.median(u for u, _ in times), 3),
                     "teardown_s": round(statistics.median(d for _, d in times), 3),
                     "matrix_30_cases_s": m["wall_s"], "median_case_s": m["median_case_s"]}
    return out


def trace_cost(rounds: int = 2) -> dict:
    """The default matrix at --jobs 2, traced (the default) and with --no-trace, alternated."""
    traced, untraced = [], []
    for _ in range(rounds):
        traced.append(matrix(2)["wall_s"])
        untraced.append(matrix(2, "--no-trace")["wall_s"])
    t, u = statistics.median(traced), statistics.median(untraced)
    print(f"tracing: default matrix at --jobs 2 {t:.1f} s traced, {u:.1f} s with --no-trace "
          f"(median of {rounds} each): {100 * (t - u) / u:+.0f} % wall time")
    return {"traced_wall_s": traced, "untraced_wall_s": untraced, "cost_pct": round(100 * (t - u) / u, 1)}


def main() -> int:
    if os.geteuid() != 0:
        print("bench needs root (it runs the real matrix in namespaces)", file=sys.stderr)
        return 2
    print(f"benchmark on {os.cpu_count()} cores\n")
    if sys.argv[1:] == ["trace"]:  # only the cost of tracing
        print(json.dumps(trace_cost()))
        return 0
    res = {"loopback": loopback_session()}
    lb = res["loopback"]
    print("one explicit-FTPS session on loopback (1 MiB up + LIST + 1 MiB down, SHA-256 checked):")
    print(f"  warm (probe in-process):    {lb['session_warm_median_s'] * 1000:7.1f} ms median")
    print(f"  cold (fresh interpreter):   {lb['session_cold_median_s'] * 1000:7.1f} ms median")
    print(f"  pyftpdlib server ready in:  {lb['server_ready_s'] * 1000:7.1f} ms\n")
    res["matrix"] = []
    cap_dir = tempfile.mkdtemp(prefix="bench-capture-")
    for jobs, extra in ((1, ()), (2, ()), (2, ("--no-rules",)), (2, ("--prove-minimal",)),
                        (2, ("--capture", "--report-dir", cap_dir))):
        m = matrix(jobs, *extra)
        res["matrix"].append(m)
        print(f"default matrix, --jobs {jobs} {m['options']}: {m['cases']} cases in {m['wall_s']:.1f} s "
              f"wall (amortized {m['amortized_case_s'] * 1000:.0f} ms/case; median case "
              f"{m['median_case_s'] * 1000:.0f} ms); {m['summary']}")
    base, minimal = res["matrix"][1]["wall_s"], res["matrix"][3]["wall_s"]
    d2, bare = res["matrix"][1], lb["session_warm_median_s"]
    print("per phase, default matrix at --jobs 2 (summed over workers): "
          + ", ".join(f"{k} {v:.1f} s" for k, v in d2["phases_s"].items()))
    res["ratio_to_bare"] = round(d2["amortized_case_s"] / bare, 2)
    print(f"amortized case at --jobs 2: {d2['amortized_case_s'] * 1000:.0f} ms = "
          f"{res['ratio_to_bare']:.1f}x the bare in-process session (goal <= 2x)")
    noproof = res["matrix"][2]["wall_s"]
    res["proof_cost_pct"] = round(100 * (base - noproof) / base, 1)
    print(f"rule proofs: {base:.1f} s with, {noproof:.1f} s with --no-rules: "
          f"{res['proof_cost_pct']:.0f} % of the default run (goal <= 25 %)")
    print(f"added cost of --prove-minimal at --jobs 2: {minimal - base:+.1f} s "
          f"({minimal / base:.1f}x the default run)")
    cap = res["matrix"][4]["wall_s"]
    print(f"added cost of --capture (pcaps + key logs, all reports) at --jobs 2: {cap - base:+.1f} s")
    shutil.rmtree(cap_dir, ignore_errors=True)
    res["trace"] = trace_cost()
    cmp = backends_compared()
    if cmp:
        res["backends"] = cmp
        n, d = cmp["netns"], cmp["docker"]
        for name, v in cmp.items():
            print(f"{name:6}: topology setup {v['setup_s'] * 1000:6.0f} ms, teardown {v['teardown_s'] * 1000:5.0f} ms, "
                  f"30 server-nat cases {v['matrix_30_cases_s']:.1f} s (median case {v['median_case_s'] * 1000:.0f} ms)")
        print(f"netns is {d['setup_s'] / max(n['setup_s'], 1e-3):.0f}x faster to set up a topology "
              f"({(d['setup_s'] + d['teardown_s']) / max(n['setup_s'] + n['teardown_s'], 1e-3):.0f}x with teardown)")
    out = REPO / "reports" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(f"\nwritten to {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
