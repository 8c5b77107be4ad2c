"""Run a list of cases with progress and guaranteed cleanup (used by every command)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

import certs
from harness.build import topologies
from harness.build.backends import Backend
from harness.build.backends import get as get_backend
from harness.build.backends.netns import claim_run, release_run
from harness.build.topologies import Catalog
from harness.core.case import Case
from harness.judge.verdict import Result
from harness.run import signals
from harness.run.progress import Progress
from harness.run.worker import ActiveRun, Interrupted, run_cases


def execute(
    cases: list[Case],
    *,
    backend: str = "netns",
    jobs: int = 2,
    record: Path | None = None,
    rules: bool = True,
    prove_minimal: bool = False,
    label: str = "run",
    err: Console | None = None,
    capture_dir: Path | None = None,
    trace: bool = True,
    early_stop: bool = True,
    seconds: dict[str, float] | None = None,
    catalog: Catalog = topologies.SHIPPED,
    before: Callable[[Backend], None] | None = None,
    repeat: int = 1,
) -> tuple[list[Result], float, str]:
    """(results, seconds, run id). `before`: a check of the command's own, once the backend
    is known to work (e.g. that a topology file's rulesets load). Ctrl-C/SIGTERM: everything
    is torn down, then Interrupted (a KeyboardInterrupt) carries the results that finished."""
    err = err or Console(stderr=True)
    be = get_backend(backend)
    be.preflight()
    if before is not None:
        before(be)
    certs.ensure()  # once, before parallel workers need it
    if be.max_jobs and jobs > be.max_jobs:
        err.print(f"the {be.name} backend runs {be.max_jobs} lab at a time; --jobs {jobs} becomes {be.max_jobs}")
        jobs = be.max_jobs
    t0 = time.monotonic()
    results: list[Result] | None = None
    progress: Progress | None = None
    run = ActiveRun(
        run_id=secrets.token_hex(3),
        backend=be,
        record=record,
        rules=rules,
        prove_minimal=prove_minimal,
        capture_dir=capture_dir,
        trace=trace,
        early_stop=early_stop and trace,
        catalog=catalog,
        repeat=repeat,
    )
    try:
        try:
            claim_run(run.run_id)
            topos = len({c.topology for c in cases})
            err.print(
                f"{label} {run.run_id}: {len(cases)} cases on {topos} "
                f"topolog{'y' if topos == 1 else 'ies'}, backend {be.name}, {jobs} job(s)"
            )
            progress = Progress(err, len(cases))
            results = run_cases(run, cases, jobs, progress, seconds)
        finally:
            with signals.deferred():  # a signal now waits until everything is removed
                if progress is not None:
                    progress.close()
                run.finish()
                release_run(run.run_id)
    except Interrupted as e:
        e.run_id = run.run_id
        raise
    except KeyboardInterrupt:  # before the workers started, or while finishing
        interrupted = Interrupted(results or [], len(cases))
        interrupted.run_id = run.run_id
        raise interrupted from None
    return results, time.monotonic() - t0, run.run_id
