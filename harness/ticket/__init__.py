"""From a ticket's files to the scenario that reproduces it: read (readers/), facts
(facts.py), the smallest explanation (infer.py), the scenario file (write.py), and after a
run, the verdict on the ticket (verdict.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from harness.core.inputs import InputError
from harness.ticket import readers
from harness.ticket.facts import Facts, derive
from harness.ticket.infer import Inference, NotReproducible, explain
from harness.ticket.log import Log
from harness.ticket.readers import pcap
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


KEY_LOG = re.compile(rb"^(CLIENT_RANDOM|CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET) ", re.M)


def is_key_log(path: Path) -> bool:
    """A TLS key log (SSLKEYLOGFILE format, or a .keylog file, which may be empty: a plain
    FTP session has no keys): it decrypts the ticket's captures."""
    if path.suffix == ".keylog":
        return True
    try:
        with path.open("rb") as f:
            return bool(KEY_LOG.search(f.read(4096)))
    except OSError:
        return False


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return f.read(64 * 1024)
    except OSError as e:
        raise InputError(f"{path}: cannot read it: {e.strerror}") from None


def load(paths: list[Path]) -> Imported:
    """Read every file of one ticket (UnknownFormat, InputError: exit 2) and explain it. A key
    log among the files decrypts the captures (else one found beside a capture is used)."""
    keys = [p for p in paths if is_key_log(p)]
    if len(keys) > 1:
        raise InputError(f"{', '.join(map(str, keys))}: several key logs; give the one of the client that captured")
    logs = tuple(
        pcap.parse_with_keys(p, readers.read_bounded(p), keys[0]) if keys and pcap.sniff(_head(p)) else readers.read(p)
        for p in paths
        if p not in keys
    )
    facts = derive(list(logs))
    try:
        return Imported(logs, facts, explain(facts))
    except NotReproducible as e:
        return Imported(logs, facts, None, str(e))
