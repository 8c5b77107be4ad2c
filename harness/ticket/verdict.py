"""The verdict on a ticket: did the lab fail as the ticket's files did? (pure)

The same stage is the test; then the detail that made the explanation (the 227's private
address, the refused PORT) is looked for in the lab's own evidence. Differences that do not
change the diagnosis (the customer's firewall dropped where the lab's refused) are said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.core import family
from harness.judge.verdict import Result
from harness.ticket.facts import Facts


@dataclass(frozen=True)
class TicketVerdict:
    reproduced: bool
    text: str  # "reproduced: the same failure at data-connect, with a private address in its 227 too"
    cases: dict[str, str] = field(default_factory=dict)  # case id -> what it showed

    def to_json(self) -> dict[str, Any]:
        return {"reproduced": self.reproduced, "verdict": self.text, "cases": self.cases}


def _announced_kind(r: Result) -> tuple[str, str] | None:
    """(the lab's address-carrying line as the client received it, its kind)."""
    ev = r.verdict.evidence
    for pair in ev.control:
        a = family.announced(pair.received or "")
        if a and a.ip:
            peer = _dialled(r)
            if pair.received.upper().startswith(("PORT", "EPRT")):
                return pair.received, "private" if family.private(a.ip) else "public"
            return pair.received, family.classify(a.ip, peer) if peer else "?"
    return None


def _dialled(r: Result) -> str:
    d = r.verdict.evidence.data_connections
    return next((c.control_peer for c in d if c.control_peer), "")


def judge(facts: Facts, results: list[Result]) -> TicketVerdict:
    fail = facts.failure
    if fail is None:
        return TicketVerdict(False, "the ticket shows no failure: nothing to reproduce")
    line = facts.announced.said if facts.announced else ""
    detail_kind = facts.address_kind
    same, cases = [], {}
    for r in results:
        v = r.verdict
        if v.outcome == "fail" and v.stage == fail.stage:
            lab = _announced_kind(r)
            with_detail = bool(line and lab and detail_kind and lab[1] == detail_kind)
            cases[r.case.id] = f"fails at {v.stage}" + (f", {lab[0]}" if lab else "") + f" ({v.check})"
            same.append((r, with_detail))
        else:
            cases[r.case.id] = (
                f"{v.outcome}" + (f" at {v.stage}" if v.stage else "") + (f" ({v.check})" if v.check else "")
            )
    if same:
        detail = any(d for _, d in same)
        what = line.split(" ")[0] if line else ""
        text = f"reproduced: the same failure at {fail.stage}"
        if detail and detail_kind:
            text += f", with a {_said(detail_kind)} in its {what} too"
        elif line:
            text += f"; the lab did not show the ticket's '{line}'"
        kinds = {r.verdict.evidence.failure.kind for r, _ in same if r.verdict.evidence.failure}
        if kinds and fail.kind not in kinds and fail.kind in ("timeout", "refused", "reset", "unreachable"):
            text += f" (the ticket's connection {fail.kind}, the lab's {'/'.join(sorted(kinds))})"
        others = [r for r in results if r not in [x for x, _ in same]]
        if others:
            text += "; " + "; ".join(f"{_lab_name(r)} {cases[r.case.id]}" for r in others)
            text = text.replace(
                "reproduced:", f"reproduced by {', '.join(sorted({_lab_name(r) for r, _ in same}))}:", 1
            )
        return TicketVerdict(True, text, cases)
    labs = sorted({f"{r.verdict.outcome}" + (f" at {r.verdict.stage}" if r.verdict.stage else "") for r in results})
    return TicketVerdict(
        False, f"not reproduced: the ticket failed at {fail.stage}, the lab {' / '.join(labs) or 'ran nothing'}", cases
    )


def _said(kind: str) -> str:
    """An address kind (family.classify) in words."""
    return {
        "same": "address as the control connection's",
        "private": "private address",
        "public": "public address",
        "neighbour": "neighbouring address",
        "third-party": "third-party address",
    }.get(kind, f"{kind} address")


def _lab_name(r: Result) -> str:
    return r.case.lab
