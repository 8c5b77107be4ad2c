"""A load balancer sent one session's connections to different servers."""

from __future__ import annotations

from harness.judge.checks import check
from harness.judge.evidence import Evidence
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation


@check("balanced-to-another-backend", 130)
def balanced_apart(obs: Observation, ev: Evidence) -> Verdict | None:
    """The balancer sent a data connection to another backend than its control connection."""
    lb, f = ev.balancer, ev.failure
    if not lb or not lb.data or f is None or f.stage not in ("data-connect", "data-tls", "transfer"):
        return None
    other = [c for c in lb.data if c.backend != lb.control]
    if not other or not lb.control:
        return None
    c, addr = other[0], lb.addresses
    refused = {
        "SC": " (HAProxy log: the server refused the connection, state SC)",
        "CD": " (HAProxy log: the client side closed it, state CD)",
    }.get(c.state or "", "")
    text = (
        f"The control connection landed on backend {lb.control} ({addr.get(lb.control)}); "
        f"the data connection to {obs.topology.server_public}:{c.port} was balanced to "
        f"{c.backend} ({addr.get(c.backend, '?')}), which has no session waiting on that "
        f"port{refused}. The client saw: {f.error}. A load balancer must keep one client's "
        f"control and data connections on the same server (persistence by source address)."
    )
    return Verdict("fail", f.stage, text, ev)
