"""What a case can come to, and the stages of a session, in session order (pure data)."""

from __future__ import annotations

from typing import Literal, get_args

Outcome = Literal["pass", "fail", "skip", "error"]
Stage = Literal[
    "connect", "tls-handshake", "login", "data-setup", "data-connect", "data-tls", "transfer", "completion", "integrity"
]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
STAGES: tuple[str, ...] = get_args(Stage)
