"""The throughput of one large FTPS transfer on the direct path and through NAT.

Explicit TLS, PASV, the ftplib agent and the embedded pyftpdlib server (masquerading as
the public address, so all three paths pass), in labs built by the harness's own Run and
Worker. Rounds alternate between the paths so that the machine's load falls on each alike.
The rates come from the agent's own step times: upload = from the end of PWD to the end of
STOR, download = from the end of LIST to the end of RETR (each includes PASV, the data TLS
handshake and the agent's SHA-256 of the payload, the same on every path).
"""

from __future__ import annotations

import secrets
import statistics
from dataclasses import dataclass

from harness.core.login import TEST_LOGIN

PATHS = ("direct", "server-nat", "server-nat-alg")  # -alg: the conntrack FTP helper on port 21
SIZE = 100 << 20
MB = 1e6


@dataclass(frozen=True)
class Rates:
    """One session's transfer rates in MB/s (10^6 bytes per second)."""

    upload: float
    download: float


def rates(report, size: int) -> Rates:
    """Upload and download rates of `size` bytes from a ClientReport's step times."""
    t = {s.name: s.t for s in report.steps if s.ok}
    return Rates(size / MB / (t["stor"] - t["pwd"]), size / MB / (t["retr"] - t["list"]))


def summarise(per_path: dict[str, list[Rates]]) -> dict:
    """Median rates per path, and each NAT path's rate as a ratio of the direct path's."""
    out: dict = {"paths": {}, "ratios": {}}
    for path, rs in per_path.items():
        if rs:
            out["paths"][path] = {
                "upload_MBps": round(statistics.median(r.upload for r in rs), 1),
                "download_MBps": round(statistics.median(r.download for r in rs), 1),
                "rounds": len(rs),
                "each": [[round(r.upload, 1), round(r.download, 1)] for r in rs],
            }
    direct = out["paths"].get("direct")
    for path, v in out["paths"].items():
        if direct and path != "direct":
            out["ratios"][f"{path}/direct"] = {k: round(v[k] / direct[k], 2) for k in ("upload_MBps", "download_MBps")}
    return out


def measure(rounds: int = 3, size: int = SIZE) -> dict:
    """Run `rounds` sessions of `size` bytes up and down on every path; figures or errors."""
    import certs
    import clients
    import servers
    from clients._wire import Bounds
    from harness.build import topologies
    from harness.build.backends import get
    from harness.build.backends.netns import claim_run, release_run
    from harness.core.case import Case, ClientSpec, NetSpec, ServerSpec
    from harness.run.worker import ActiveRun, Worker

    spec = ServerSpec(impl="pyftpdlib", tls="explicit", masquerade=True)
    probe, adapter = clients.get("ftplib"), servers.get(spec.impl)
    user, password = adapter.credentials or TEST_LOGIN
    bounds = Bounds(download=size + (1 << 20), step_s=120.0)
    backend = get("netns")
    backend.preflight()
    run = ActiveRun(run_id=secrets.token_hex(3), backend=backend, trace=False)
    claim_run(run.run_id)
    labs, got, errors = {}, {p: [] for p in PATHS}, {}
    try:
        for i, name in enumerate(PATHS):
            w = Worker(run, i)
            topology = topologies.build(name, spec, NetSpec())
            lab = w._lab_for(topology)
            labs[name] = (w, lab, topology, w._start_servers(lab, topology, spec))
        for _ in range(rounds):
            for name, (_, lab, topology, _) in labs.items():
                case = Case(name, spec, ClientSpec(mode="pasv", pasv_address="trust"))
                ctx = clients.ClientContext(
                    host=topology.server_public,
                    ca=certs.ensure().ca,
                    user=user,
                    password=password,
                    cwd=adapter.upload_dir,
                    timeout=10.0,
                    size=size,
                    bounds=bounds,
                    python=lab.python,
                )
                rep = probe.session(lab, topology.client, case, ctx)
                if rep.ok:
                    got[name].append(rates(rep, size))
                else:
                    errors[name] = f"{rep.failure.step}: {rep.failure.error}"
    finally:
        for w, _, _, server in labs.values():
            server.stop()
            w.close()
        run.finish()
        release_run(run.run_id)
    return {"size_bytes": size, **summarise(got), "errors": errors}
