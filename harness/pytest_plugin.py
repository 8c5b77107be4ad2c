"""pytest plugin: scenario files as test items (`pytest scenarios/`).

Each case of a scenario is one item, named by its case id, that fails when its `expect`
does not hold (or the harness errs). pytest's own selection (-k, --lf, --deselect), JUnit
(--junitxml) and pytest-xdist then apply. Cases of one unit (same topology and server) run
together, once, on one lab: the first selected item of a unit runs every selected item of
it, and the session keeps the results for the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness import topology_command
from harness.core.case import Case, NetSpec, ServerSpec
from harness.judge.verdict import Result
from harness.plan.selection import rerun_command
from harness.reproduce import scenario

if TYPE_CHECKING:  # pytest's own types for repr_failure (not exported by the pytest package)
    from _pytest._code.code import TerminalRepr, TracebackStyle

Unit = tuple[str, ServerSpec, NetSpec]  # what a unit of cases shares (topology, server, network)
UNITS = pytest.StashKey[dict[tuple[Path, Unit], dict[str, Result]]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[UNITS] = {}


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix in (".yaml", ".yml"):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[ScenarioCase]:
        try:
            sc = scenario.load(self.path)
        except scenario.ScenarioError as e:
            raise self.CollectError(str(e)) from None
        if sc.waits_for:
            item = ScenarioCase.from_parent(self, name="waits-for", case=None, scenario=sc)
            item.add_marker(pytest.mark.skip(reason=f"waits for {sc.waits_for}"))
            yield item
            return
        for case in sc.cases:
            yield ScenarioCase.from_parent(self, name=case.id, case=case, scenario=sc)


class ExpectationFailed(Exception):
    pass


def _unit(case: Case) -> Unit:
    return (case.topology, case.server, case.net)


class ScenarioCase(pytest.Item):
    def __init__(self, *, case: Case | None, scenario: scenario.Scenario, **kw: Any) -> None:
        super().__init__(**kw)
        self.case, self.scenario = case, scenario
        self.result: Result | None = None

    def _run_unit(self) -> dict[str, Result]:
        """The results of every selected item of this item's unit (run once per session)."""
        assert self.case is not None, "a waits-for item is skipped before it runs"
        store = self.config.stash[UNITS]
        key = (self.path, _unit(self.case))
        if key not in store:
            from harness.run.execute import execute

            mates = [
                i
                for i in self.session.items
                if isinstance(i, ScenarioCase) and i.case and (i.path, _unit(i.case)) == key
            ]
            catalog, name = self.scenario.catalog, self.case.topology
            results, _, _ = execute(
                [i.case for i in mates if i.case],
                label=f"unit {name}",
                catalog=catalog,
                before=lambda be: topology_command.preflight(catalog, [name], be),
            )
            store[key] = {r.case.id: r for r in results}
        return store[key]

    def runtest(self) -> None:
        if os.geteuid() != 0:
            pytest.skip("builds network namespaces: needs root")
        assert self.case is not None, "a waits-for item is skipped before it runs"
        self.result = self._run_unit().get(self.case.id)
        if self.result is None:
            raise ExpectationFailed("the harness returned no result for this case (interrupted?)")
        v = self.result.verdict
        if v.outcome == "skip":
            pytest.skip(v.diagnosis)
        differs = self.scenario.check([self.result])
        if differs:
            raise ExpectationFailed(differs[0][1])
        if v.outcome == "error":
            raise ExpectationFailed("harness error")

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, ExpectationFailed) and self.case is not None:
            lines = [f"{self.case.id}: {excinfo.value}"]
            if self.result is not None:
                v = self.result.verdict
                lines += [
                    f"verdict: {v.outcome}" + (f" at {v.stage}" if v.stage else "") + f" ({v.check})",
                    f"diagnosis: {v.diagnosis}",
                ]
            lines.append(f"re-run: {rerun_command(self.case)}")
            return "\n".join(lines)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, f"scenario {self.path.name}: {self.name}"
