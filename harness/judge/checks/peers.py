"""Failures a peer's adapter knows as that peer's own bug (clients.ClientAdapter.known_bugs)."""

from __future__ import annotations

import clients
from harness.judge.checks import check
from harness.judge.evidence import Evidence
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation


@check("client-known-bug", 240)
def client_known_bug(obs: Observation, ev: Evidence) -> Verdict | None:
    """A bug the client's adapter declares, recognised by the client's own message."""
    f = ev.failure
    if f is None:
        return None
    try:
        bugs = clients.get(obs.case.client.impl).known_bugs
    except KeyError:  # a recording of a client this checkout does not have
        return None
    for bug in bugs:
        if bug.says in f.error:
            stage = "data-tls" if (f.reply or "").startswith("522") else f.stage
            return Verdict("fail", stage, bug.explain.format(error=f.error), ev)
    return None
