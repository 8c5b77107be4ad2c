"""Backend registry: name -> class."""
from __future__ import annotations

from .base import Backend, BackendUnavailable, Lab
from .docker import DockerBackend
from .netns import NetnsBackend

BACKENDS: dict[str, type[Backend]] = {"netns": NetnsBackend, "docker": DockerBackend}


def get(name: str) -> Backend:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; valid: {', '.join(BACKENDS)}") from None


__all__ = ["Backend", "BackendUnavailable", "Lab", "BACKENDS", "get"]
