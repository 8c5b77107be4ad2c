"""Backend registry: name -> class. The Docker backend will register here too."""
from __future__ import annotations

from .base import Backend, BackendUnavailable, Lab
from .netns import NetnsBackend

BACKENDS: dict[str, type[Backend]] = {"netns": NetnsBackend}


def get(name: str) -> Backend:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; valid: {', '.join(BACKENDS)}") from None


__all__ = ["Backend", "BackendUnavailable", "Lab", "BACKENDS", "get"]
