"""What one middlebox saw during a case (facts only).

flows and expectations are the raw `conntrack -E` event lines (the evidence a diagnosis
quotes); harness/flows.py parses them. The trace and conntrack statistics are added by the
trace contract (harness/trace.py).
"""
from __future__ import annotations

from dataclasses import dataclass

from .flows import Expectation, Flow, expectations, flows


@dataclass(frozen=True)
class MiddleboxView:
    flows: tuple[str, ...] = ()  # conntrack NEW events
    expectations: tuple[str, ...] = ()  # conntrack expectation events (the FTP helper's pinholes)
    rejected: int = 0  # packets the firewall's reject counter counted
    invalid: int = 0  # packets dropped as invalid state
    log: tuple[str, ...] = ()  # the box's own log (HAProxy)
    destroyed: tuple[str, ...] = ()  # conntrack DESTROY events (connections it forgot or closed)
    counters: tuple[tuple[str, int], ...] = ()  # every named counter that counted, with its delta

    def parsed_flows(self, box: str) -> list[Flow]:
        return flows(box, list(self.flows))

    def parsed_expectations(self, box: str) -> list[Expectation]:
        return expectations(box, list(self.expectations))
