"""Progress on long runs: a live bar on a terminal, a line every 10% in CI logs."""

from __future__ import annotations

import time

from rich.console import Console

from harness.judge.verdict import Result


class Progress:
    """A live bar on a terminal; a line every 10% otherwise (CI logs)."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total, self.done, self.t0 = console, total, 0, time.monotonic()
        self.live = console.is_terminal
        self._next = 0.1
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[bold]matrix"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.description}"),
                console=console,
                transient=True,
            )
            self.task = self.bar.add_task("", total=total)
            self.bar.start()

    def __call__(self, r: Result) -> None:
        self.done += 1
        if self.live:
            self.bar.update(self.task, advance=1, description=f"{r.case.id} {r.verdict.outcome}")
        elif self.done / self.total >= self._next or self.done == self.total:
            self._next += 0.1
            self.console.print(f"  {self.done}/{self.total} cases  {time.monotonic() - self.t0:5.1f}s")

    def close(self) -> None:
        if self.live:
            self.bar.stop()
