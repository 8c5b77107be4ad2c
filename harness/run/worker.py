"""Case -> Lab -> Observation -> Verdict, with lab and server reuse and parallel workers.

Cases that share a topology and a server spec form a unit: one lab, one server start,
then one client session per case. A worker keeps its lab while the next unit has the same
topology. Each worker owns its labs, so parallel labs never share a namespace.
"""

from __future__ import annotations

import itertools
import shutil
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ParamSpec, TypeVar

import certs
import clients
import servers
from harness.build import topologies
from harness.build.backends import Backend, Lab
from harness.build.impairments import conditions as path_conditions
from harness.build.middleboxes import Middleboxes
from harness.build.topologies import Catalog
from harness.build.topology import Topology
from harness.core import timing
from harness.core.case import Case, ServerSpec
from harness.core.login import TEST_LOGIN
from harness.core.repo import nat_file
from harness.judge import checks, proof, stability
from harness.judge.evidence import Evidence
from harness.judge.rules.derive import derive
from harness.judge.verdict import Result, Verdict
from harness.observe import recording
from harness.observe.middlebox_view import MiddleboxView
from harness.observe.observation import ClientReport, Observation, ServerView
from harness.observe.trace import TracePath
from harness.observe.watch import MiddleboxWatch
from harness.plan.units import lab_key, longest_first, units
from harness.run import early_stop, scratch, signals
from harness.run.capture import Captures, case_dir
from harness.run.schedule import Pending

P = ParamSpec("P")
R = TypeVar("R")


def _certs(topology: Topology) -> certs.CertPaths:
    """The certificate names every address a client of this topology may dial."""
    return certs.covering((topology.server_public, topology.masquerade_address))


@dataclass
class ActiveRun:
    """Shared state of one harness run: its id, scratch space, live labs, the stop flag."""

    run_id: str
    backend: Backend
    workdir: Path = field(default_factory=scratch.make)
    stop: threading.Event = field(default_factory=threading.Event)
    labs: set[Lab] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    failure: BaseException | None = None  # what stopped a worker, if anything
    record: Path | None = None  # save every Observation here (JSON), if set
    capture_dir: Path | None = None  # record pcaps and TLS key logs per case under <dir>/cases/
    rules: bool = True  # derive each passing case's firewall rules and prove them by replay
    prove_minimal: bool = False  # also replay without each rule, one at a time
    trace: bool = True  # follow `nft monitor trace` in every middlebox (harness/build/tracing.py)
    early_stop: bool = True  # stop a client's wait once the trace shows a rule dropped it
    catalog: Catalog = topologies.SHIPPED  # the topologies its cases name
    repeat: int = 1  # runs of every case (--repeat); a failure without hard evidence runs twice

    def build(self, topology: Topology) -> Lab:
        if self.stop.is_set():
            raise RuntimeError("the run is stopping")
        prefix = f"fth-{self.run_id}-{next(self._seq)}"
        lab = self.backend.build(topology, prefix)
        if self.trace:
            try:
                lab.enable_trace()
            except BaseException:
                lab.teardown()
                raise
        with self.lock:
            self.labs.add(lab)
        if self.stop.is_set():
            self.teardown(lab)
            raise RuntimeError("the run is stopping")
        return lab

    def teardown(self, lab: Lab) -> None:
        try:
            for name in clients.names():
                clients.get(name).close(lab)
        finally:
            lab.teardown()
        with self.lock:
            self.labs.discard(lab)

    def teardown_all(self) -> None:
        with self.lock:
            labs = list(self.labs)
        for lab in labs:
            self.teardown(lab)

    def finish(self) -> None:
        with signals.deferred():
            self.teardown_all()
            shutil.rmtree(self.workdir, ignore_errors=True)


REPLAY_TIMEOUT = 1.5  # per network step in proof replays: failures here are refusals, not waits


class ServerGroup:
    """The FTP server(s) of a topology (several behind a load balancer), as one."""

    def __init__(self, running: list[servers.RunningServer]) -> None:
        self.running = running

    def view(self) -> ServerView:
        """What every server logged since the last call."""
        return ServerView.of([e for s in self.running for e in s.events()])

    def alive(self) -> bool:
        return all(s.alive() for s in self.running)

    def stop(self) -> None:
        for s in self.running:
            s.stop()


class Worker:
    """Runs units one after another, reusing its lab across units of one topology."""

    def __init__(self, run: ActiveRun, index: int) -> None:
        self.run, self.index = run, index
        self.lab: Lab | None = None
        self.watches: list[MiddleboxWatch] = []
        self.boxes: Middleboxes | None = None
        self.proved: proof.Proved = {}  # identical derived rules -> a verified proof

    def _lab_for(self, topology: Topology) -> Lab:
        if self.lab is not None and self.lab.topology == topology:
            return self.lab
        self.close()
        self.lab = self.run.build(topology)
        wd = self.run.workdir / self.lab.prefix
        wd.mkdir(parents=True, exist_ok=True)
        self.watches = [MiddleboxWatch(self.lab, box, wd) for box in topology.middleboxes]
        self.boxes = Middleboxes(self.lab, topology, wd)
        return self.lab

    def close(self) -> None:
        for w in self.watches:
            w.close()
        self.watches = []
        if self.boxes is not None:
            self.boxes.close()
            self.boxes = None
        if self.lab is not None:
            self.run.teardown(self.lab)
            self.lab = None

    def unit(self, cases: list[Case], emit: Callable[[Result], None]) -> None:
        """Every case of the unit ends as a result, whatever breaks: a case whose own step
        raised is an error naming the step; a lab that broke is rebuilt for the next case."""
        first = cases[0]
        why = servers.get(first.server.impl).supports(first.server) or self.run.backend.cannot_build(first.net.family)
        pending = []
        for c in cases:
            skip = why or clients.get(c.client.impl).supports(c)
            if skip:
                emit(Result(c, Verdict("skip", None, skip, check="not-expressible"), 0.0))
            else:
                pending.append(c)
        server: ServerGroup | None = None
        try:
            while pending and not self.run.stop.is_set():
                t0 = time.monotonic()
                setup: dict[str, float] = {}
                if server is None:
                    try:
                        with timing.phase(setup, "setup"):
                            topology = self.run.catalog.build(first.topology, first.server, first.net)
                            lab = self._lab_for(topology)
                            for impl in sorted({c.client.impl for c in pending}):  # start while the servers do
                                clients.get(impl).prepare(lab, topology.client, lab.python)
                            server = self._start_servers(lab, topology, first.server)
                    except Exception as e:
                        why = f"could not set up {first.topology} with {first.server.impl}: {_exc(e)}"
                        for c in pending:
                            emit(Result(c, error_verdict(why, e), time.monotonic() - t0))
                        self.close()
                        return
                case = pending.pop(0)
                step = "could not restart the server"
                try:
                    if not server.alive():
                        server.stop()
                        server = None
                        server = self._start_servers(lab, topology, case.server)
                    step = "the case broke"
                    result = self.runs(lab, topology, server, case)
                    result.phases.update(setup)
                except Exception as e:
                    emit(
                        Result(case, error_verdict(f"{getattr(e, 'step', step)}: {_exc(e)}", e), time.monotonic() - t0)
                    )
                    if server is not None:
                        server.stop()
                    server = None
                    self.close()
                    continue
                emit(result)
        finally:
            if server is not None:
                server.stop()

    def _start_servers(self, lab: Lab, topology: Topology, spec: ServerSpec) -> ServerGroup:
        adapter = servers.get(spec.impl)
        tag = f"{spec.impl}-{spec.tls}-{'masq' if spec.masquerade else 'nomasq'}"
        wd = self.run.workdir / lab.prefix
        running = []
        try:
            for host in topology.servers:
                ctx = servers.ServerContext(
                    public_ip=topology.masquerade_address or topology.server_public,
                    masquerade_map=topology.masquerade_map,
                    certs=_certs(topology),
                    home=wd / (f"{tag}-home" if topology.shared_home else f"{host}-{tag}-home"),
                    log=wd / f"{host}-{tag}.log",
                    keylog=wd / f"{host}-{tag}.keylog",
                    python=lab.python,
                )
                own = topology.host(host).passive  # a replica's own share of the range
                running.append(adapter.start(lab, host, replace(spec, passive=own) if own else spec, ctx))
        except Exception:
            ServerGroup(running).stop()
            raise
        return ServerGroup(running)

    def observe(
        self, lab: Lab, topology: Topology, server: ServerGroup, case: Case, timeout: float = 4.0, capture: bool = False
    ) -> Observation:
        """Run one session of `case` and collect what every party saw."""
        assert self.boxes is not None, "_lab_for() made them with the lab"
        _step("could not reset the middleboxes before the case", self.boxes.before_case)
        server.view()  # drop what belongs to earlier sessions
        self.boxes.logs()
        for w in self.watches:
            _step(f"could not read what {w.box.name} saw", w.take, flush=True)  # cases are independent
        keylog_offsets = {s.host: s.keylog_size() for s in server.running}
        client = clients.get(case.client.impl)
        adapter = servers.get(case.server.impl)
        user, password = adapter.credentials or TEST_LOGIN
        folder = case_dir(self.run.capture_dir, case.id) if capture and self.run.capture_dir else None
        ctx = clients.ClientContext(
            host=topology.server_public,
            port=topology.dial_port(case.server.control_port),
            ca=_certs(topology).ca,
            timeout=timeout,
            user=user,
            password=password,
            cwd=adapter.upload_dir,
            keylog=folder / "client.keylog" if folder else None,
            log=folder / "client.log" if folder else None,
            python=lab.python,
        )
        caps = Captures(lab, topology, folder) if folder else None
        sources = [src for w in self.watches if (src := w.trace_source())] if self.run.early_stop else []
        drops = early_stop.DropWatch(sources, lambda: client.interrupt(lab)) if sources else None
        try:
            report: ClientReport | None = client.session(lab, topology.client, case, ctx)
            error = None
        except Exception as e:
            report, error = None, f"{type(e).__name__}: {e}"
        finally:
            stop = drops.finish() if drops else None
            files = caps.stop() if caps else []
        interrupted = bool(report and report.failure and report.failure.interrupted)
        if folder:
            for s in server.running:
                if s.copy_keylog(folder / f"{s.host}.keylog", keylog_offsets[s.host]):
                    files.append(folder / f"{s.host}.keylog")
            if ctx.keylog and ctx.keylog.exists():
                files.append(ctx.keylog)
        if report is None or not report.ok:
            time.sleep(0.05)  # let late server lines and conntrack events land
        logs = self.boxes.logs()
        boxes = {
            w.box.name: replace(
                _step(f"could not read what {w.box.name} saw", self._take_loaded, w),
                log=tuple(logs.get(w.box.name, ())),
            )
            for w in self.watches
        }
        return Observation(
            case=case,
            topology=topology,
            client=report,
            server=server.view(),
            middleboxes=boxes,
            harness_error=error,
            stopped_early=stop.describe() if stop and interrupted else None,
            captures=[str(f.relative_to(self.run.capture_dir)) for f in files]
            if folder and self.run.capture_dir
            else [],
        )

    def _take_loaded(self, w: MiddleboxWatch) -> MiddleboxView:
        """What `w`'s middlebox saw, each rule quoted from its ruleset as loaded."""
        assert self.boxes is not None, "_lab_for() made them with the lab"
        return w.take(self.boxes.loaded(w.box.name))

    def runs(self, lab: Lab, topology: Topology, server: ServerGroup, case: Case) -> Result:
        """The case run --repeat times; a failure no hard evidence backs runs once more to
        be confirmed. Runs that disagree make the Result flaky."""
        done = [self.case(lab, topology, server, case)]
        extra = self.run.repeat - 1
        if extra == 0 and not stability.backed(done[0].verdict):
            extra = 1
        for _ in range(extra):
            if self.run.stop.is_set():
                break
            done.append(self.case(lab, topology, server, case))
        return stability.merged(done)

    def case(self, lab: Lab, topology: Topology, server: ServerGroup, case: Case) -> Result:
        t0 = time.monotonic()
        phases: dict[str, float] = {}
        with timing.phase(phases, "session"):
            obs = self.observe(lab, topology, server, case, capture=True)
            if self.run.record is not None:
                _step(f"could not save the observation in {self.run.record}", recording.save, obs, self.run.record)
        with timing.phase(phases, "judge"):
            try:
                verdict = checks.judge(obs)
            except Exception as e:
                verdict = error_verdict("the verdict checks crashed", e)
        result = Result(
            case,
            verdict,
            time.monotonic() - t0,
            captures=obs.captures,
            stops=stops(obs) if verdict.outcome == "fail" else [],
            seen=dict(obs.middleboxes) if verdict.outcome == "fail" else {},
            phases=phases,
            traced=any(v.traced for v in obs.middleboxes.values()),
            topology=topology,
        )
        if verdict.outcome == "pass" and self.run.rules:
            with timing.phase(phases, "proof"):
                result.rules = derive(obs)
                given = path_conditions(topology, nat_file)
                if proof.share(self.proved, case, result.rules, self.run.prove_minimal, given):
                    result.duration_s = time.monotonic() - t0
                    return result
                assert self.boxes is not None, "_lab_for() made them with the lab"
                _step(
                    "the rule proof could not restore the firewalls",
                    proof.prove,
                    self.boxes,
                    result.rules,
                    minimal=self.run.prove_minimal,
                    given=given,
                    replay=lambda: checks.judge(self.observe(lab, topology, server, case, timeout=REPLAY_TIMEOUT)),
                )
                proof.remember(self.proved, case, result.rules, self.run.prove_minimal, given)
            result.duration_s = time.monotonic() - t0
        return result


class CaseStepFailed(RuntimeError):
    """A harness step of a case raised; `step` says which, in operator words."""

    def __init__(self, step: str, exc: BaseException) -> None:
        super().__init__(_exc(exc))
        self.step = step
        self.__cause__ = exc


def _step(step: str, fn: Callable[P, R], *args: P.args, **kw: P.kwargs) -> R:
    try:
        return fn(*args, **kw)
    except CaseStepFailed:
        raise
    except Exception as e:
        raise CaseStepFailed(step, e) from e


def _exc(e: BaseException) -> str:
    return str(e) if isinstance(e, CaseStepFailed) else f"{type(e).__name__}: {e}"


def stops(obs: Observation) -> list[TracePath]:
    """The traced packet paths that stopped a connection (harness/observe/trace.py), for
    verify's advice: those that ended in a drop; else the SYNs a box accepted for itself (input
    hook) on a port other than the control port, i.e. connections nothing forwarded."""
    paths = [p for v in obs.middleboxes.values() for p in v.trace]
    dropped = [p for p in paths if p.verdict in ("drop", "reject") and p.by is not None]
    if dropped:
        return dropped
    control = obs.case.server.control_port
    return [p for p in paths if p.hook == "input" and p.syn and p.verdict == "accept" and p.dport != control]


def error_verdict(why: str, exc: BaseException | None = None) -> Verdict:
    ev = Evidence(traceback=tuple(traceback.format_exception(exc)[-3:])) if exc is not None else Evidence()
    return Verdict("error", None, f"harness error: {why}", ev, check="harness-error")


def run_cases(
    run: ActiveRun,
    cases: list[Case],
    jobs: int,
    on_result: Callable[[Result], None],
    seconds: dict[str, float] | None = None,
) -> list[Result]:
    """Run every case, longest units first (harness/run/schedule.py, by `seconds` per case id when
    given; a worker first takes the units its lab serves); results come back in plan order."""
    groups = longest_first(units(cases), seconds)
    todo = Pending(groups)
    results: dict[str, Result] = {}
    lock = threading.Lock()

    def emit(r: Result) -> None:
        with lock:
            results[r.case.id] = r
        on_result(r)

    n = max(1, min(jobs, len(groups)))
    finished = [threading.Event() for _ in range(n)]

    def work(i: int) -> None:
        w = Worker(run, i)
        try:
            key = None  # the units the worker's lab serves
            while not run.stop.is_set():
                g = todo.take(i, key if w.lab is not None else None)
                if g is None:
                    return
                key = lab_key(g)
                try:
                    w.unit(g, emit)
                except Exception as e:
                    run.failure = e
                    for c in g:
                        if c.id not in results:
                            emit(Result(c, error_verdict(f"the worker broke: {_exc(e)}", e), 0.0))
                    w.close()
        finally:
            try:
                w.close()
            finally:
                finished[i].set()

    def wait_workers(limit: float) -> None:
        # Poll our own events: Thread.join() interrupted by a signal handler can mark a
        # live thread as stopped (CPython 3.11), and then the teardown would race it.
        deadline = time.monotonic() + limit
        while not all(e.is_set() for e in finished) and time.monotonic() < deadline:
            time.sleep(0.05)

    for i in range(n):
        threading.Thread(target=work, args=(i,), name=f"worker-{i}", daemon=True).start()
    try:
        wait_workers(float("inf"))
    except KeyboardInterrupt:
        with signals.deferred():
            # Stop the workers: tearing labs down ends any session in flight at once.
            run.stop.set()
            run.teardown_all()
            wait_workers(20)
            run.teardown_all()
            run.backend.clean(force=True, run_id=run.run_id)  # whatever a worker was building
        raise Interrupted([results[c.id] for c in cases if c.id in results], len(cases)) from None
    for c in cases:  # nothing disappears: a case no worker reported is an error that says so
        if c.id not in results:
            why = f"no worker ran it ({_exc(run.failure)})" if run.failure else "no worker ran it"
            emit(Result(c, error_verdict(why), 0.0))
    out = [results[c.id] for c in cases]
    assert len(out) == len(cases), "every planned case is reported"
    return out


class Interrupted(KeyboardInterrupt):
    """Ctrl-C/SIGTERM: everything is torn down; `results` are the cases that finished."""

    def __init__(self, results: list[Result], planned: int = 0) -> None:
        super().__init__()
        self.results = results
        self.planned = planned
        self.run_id = ""
