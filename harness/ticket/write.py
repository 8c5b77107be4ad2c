"""An Inference as a scenario file: YAML a support engineer can read, every value followed by
the fact it rests on (pure)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from harness.ticket.facts import Facts
from harness.ticket.infer import Inference

ORDER = ("topology", "server", "clients", "modes", "tls_version", "transfers", "verify_cert", "expect")
SUB_ORDER = ("name", "impl", "tls", "masquerade", "outcome", "stage")


def _rank(sub: str) -> int:
    return SUB_ORDER.index(sub) if sub in SUB_ORDER else len(SUB_ORDER)


def _scalar(v: object) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, str) and v in ("yes", "no", "true", "false", "null"):
        return json.dumps(v)
    return json.dumps(v) if isinstance(v, str) and (":" in v or v == "") else str(v)


def render(facts: Facts, inf: Inference) -> str:
    """The scenario's text. Its first comment lines are the story reproduce prints."""
    files = ", ".join(f"{Path(p).name}" for p in facts.files)
    fail = facts.failure
    head = [
        f"# Ticket ({files}): {fail.stage if fail else 'no failure'}"
        + (f", {fail.kind}: {fail.said[:120]}" if fail else ""),
        f"# {inf.summary}",
        "",
        f"# Written by `ftps-harness import` on {dt.date.today().isoformat()}; each value says the fact it rests on.",
    ]
    head += [f"# Undecided: {u}." for u in inf.undecided]
    groups: dict[str, list[tuple[str, object, str]]] = {}
    for key, value, why in inf.values:
        top, _, sub = key.partition(".")
        groups.setdefault(top, []).append((sub, value, why))
    out = [*head]
    for top in ORDER:
        items = sorted(groups.get(top, []), key=lambda x: _rank(x[0]))
        if not items:
            continue
        if top == "topology" and len(items) == 1:
            ((_, value, why),) = items
            out.append(f"topology: {_scalar(value)}  # {why}")
        elif top == "clients":
            out.append("clients:")
            for i, (sub, value, why) in enumerate(items):
                out.append(f"  {'- ' if i == 0 else '  '}{sub}: {_scalar(value)}  # {why}")
        elif all(sub for sub, _, _ in items):
            out.append(f"{top}:")
            out += [f"  {sub}: {_scalar(value)}  # {why}" for sub, value, why in items]
        else:
            ((_, value, why),) = items
            out.append(f"{top}: {_scalar(value)}  # {why}")
    return "\n".join(line.replace("\n", " ") for line in out) + "\n"
