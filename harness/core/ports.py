"""Port numbers and ranges (pure data)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PassiveRange:
    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first > self.last:
            raise ValueError(
                f"passive range {self.first}-{self.last} is reversed; did you mean {self.last}-{self.first}?"
            )
        if not (1024 <= self.first <= self.last <= 65535):
            raise ValueError(f"passive range {self.first}-{self.last} must lie within 1024-65535")

    @classmethod
    def parse(cls, text: str) -> PassiveRange:
        m = re.fullmatch(r"\s*([0-9]{1,5})\s*-\s*([0-9]{1,5})\s*", text)
        if not m:
            raise ValueError(f"passive range {text!r} must look like 50000-50009")
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.first <= port <= self.last
