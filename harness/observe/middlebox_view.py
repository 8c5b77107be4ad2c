"""What one middlebox saw during a case (facts only).

flows and expectations are the raw `conntrack -E` event lines (the evidence a diagnosis
quotes); harness/observe/flows.py parses them. The trace (every connection attempt's path
through the rules) and conntrack's statistics are read by harness/observe/trace.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.observe.flows import Expectation, Flow, expectations, flows
from harness.observe.helper_log import HelperDrop
from harness.observe.trace import TracePath


@dataclass(frozen=True)
class MiddleboxView:
    flows: tuple[str, ...] = ()  # conntrack NEW events
    expectations: tuple[str, ...] = ()  # conntrack expectation events (the FTP helper's pinholes)
    rejected: int = 0  # packets the firewall's reject counter counted
    invalid: int = 0  # packets dropped as invalid state
    log: tuple[str, ...] = ()  # the box's own log (HAProxy)
    traced: bool = False  # False: no trace (--no-trace, or a backend that cannot); heuristics decide
    trace: tuple[TracePath, ...] = ()  # SYNs' paths per hook (`nft monitor trace`)
    stats: dict[str, int] = field(default_factory=dict)  # `conntrack -S` deltas over the case
    destroyed: tuple[str, ...] = ()  # conntrack DESTROY events (connections it forgot or closed)
    counters: tuple[tuple[str, int], ...] = ()  # every named counter that counted, with its delta
    helper_drops: tuple[HelperDrop, ...] = ()  # packets a conntrack helper dropped, in its words
    # the box's own tables as the kernel holds them ("ip filter", "inet edge"), whatever syntax
    # the file was in; empty when the loaded ruleset could not be listed (a proof's replay)
    tables: tuple[str, ...] = ()

    def parsed_flows(self, box: str) -> list[Flow]:
        return flows(box, list(self.flows))

    def parsed_expectations(self, box: str) -> list[Expectation]:
        return expectations(box, list(self.expectations))
