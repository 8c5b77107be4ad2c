"""A load balancer sent one session's connections to different servers: HAProxy (its log),
a NAT balancer (conntrack), or kube-proxy's rules for a Kubernetes Service (conntrack, and the
traced KUBE-SEP chain that chose each replica)."""

from __future__ import annotations

from harness.judge.checks import check
from harness.judge.evidence import BalancedConnection, Balancer, Evidence
from harness.judge.verdict import Verdict
from harness.observe.observation import Observation


@check("balanced-to-another-backend", 130)
def balanced_apart(obs: Observation, ev: Evidence) -> Verdict | None:
    """The balancer sent a data connection to another backend than its control connection."""
    lb, f = ev.balancer, ev.failure
    if not lb or not lb.data or f is None or f.stage not in ("data-connect", "data-tls", "transfer"):
        return None
    other = lb.misplaced()
    if not other:
        return None
    c, addr = other[0], lb.addresses  # the first: a misplaced data connection ends the session
    control = c.control or lb.control
    assert control is not None, "filtered above"
    refused = {
        "SC": " (HAProxy log: the server refused the connection, state SC)",
        "CD": " (HAProxy log: the client side closed it, state CD)",
    }.get(c.state or "", "")
    text = (
        f"The control connection landed on backend {control} ({addr.get(control)}); "
        f"the data connection to {obs.topology.server_public}:{c.port} was balanced to "
        f"{c.backend} ({addr.get(c.backend, '?')}), which has no session waiting on that "
        f"port{refused}. The client saw: {f.error}. "
    )
    if c.chain:
        text += _kube(lb, c, control)
    else:
        text += (
            "A load balancer must keep one client's control and data connections on the same "
            "server (persistence by source address)."
        )
    return Verdict("fail", f.stage, text, ev)


def _kube(lb: Balancer, c: BalancedConnection, control: str) -> str:
    """The Service's side of it: which endpoint chain chose each replica, as traced."""
    picked = f"{c.control_chain} chose {control} for the control connection, " if c.control_chain else ""
    text = (
        f"kube-proxy's rules balanced each connection on its own: {picked}{c.chain} chose {c.backend} "
        f"for this one (-m statistic: a random pick per new connection). This session had "
        f"{len(lb.data)} data connection(s), and passes only when each lands on the control "
        f"connection's replica. This verdict is one draw: --repeat N shows the counts. "
    )
    if lb.affinity:
        text += (
            "sessionAffinity: ClientIP was in place (the traced chains checked a -m recent list) and "
            "did not keep them together: each KUBE-SEP chain keeps its own list, per Service port. "
        )
    return text + (
        "A Service cannot keep one FTP session's ports together: run one replica, or let each "
        "replica publish an address and passive range of its own (hostNetwork)."
    )
