"""From a ticket's files to the scenario that reproduces it: read (readers/), facts
(facts.py), the smallest explanation (infer.py), the scenario file (write.py), and after a
run, the verdict on the ticket (verdict.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.ticket import readers
from harness.ticket.facts import Facts, derive
from harness.ticket.infer import Inference, NotReproducible, explain
from harness.ticket.log import Log
from harness.ticket.write import render

__all__ = ["Imported", "NotReproducible", "load"]


@dataclass(frozen=True)
class Imported:
    logs: tuple[Log, ...]
    facts: Facts
    inference: Inference | None  # None: the files show no failure a lab can stand for
    why_not: str = ""  # NotReproducible's words

    def scenario(self) -> str:
        assert self.inference is not None, "only a reproducible ticket has a scenario"
        return render(self.facts, self.inference)


def load(paths: list[Path]) -> Imported:
    """Read every file of one ticket (UnknownFormat, InputError: exit 2) and explain it."""
    logs = tuple(readers.read(p) for p in paths)
    facts = derive(list(logs))
    try:
        return Imported(logs, facts, explain(facts))
    except NotReproducible as e:
        return Imported(logs, facts, None, str(e))
