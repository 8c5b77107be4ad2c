"""Backend registry: name -> class."""
from __future__ import annotations

from harness.build.backends.base import Backend, BackendUnavailable, Lab
from harness.build.backends.docker import DockerBackend
from harness.build.backends.netns import NetnsBackend

BACKENDS: dict[str, type[Backend]] = {"netns": NetnsBackend, "docker": DockerBackend}


def get(name: str) -> Backend:
    try:
        return BACKENDS[name]()
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; valid: {', '.join(BACKENDS)}") from None


__all__ = ["Backend", "BackendUnavailable", "Lab", "BACKENDS", "get"]
