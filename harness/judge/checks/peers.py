"""Failures a peer's adapter knows as that peer's own bug (clients.ClientAdapter.known_bugs)."""
from __future__ import annotations

import clients

from harness.judge.verdict import Verdict
from harness.observe.observation import Observation
from harness.judge.evidence import Evidence


def client_known_bug(obs: Observation, ev: Evidence) -> Verdict | None:
    f = ev["failure"]
    try:
        bugs = clients.get(obs.case.client.impl).known_bugs
    except KeyError:  # a recording of a client this checkout does not have
        return None
    for bug in bugs:
        if bug.says in (f.get("error") or ""):
            stage = "data-tls" if (f.get("reply") or "").startswith("522") else f["stage"]
            return Verdict("fail", stage, bug.explain.format(error=f["error"]), ev)
    return None
