"""Backends: each module that builds labs registers its Backend class by name (netns, docker)."""

from __future__ import annotations

from harness.build.backends.base import Backend, BackendUnavailable, Lab
from harness.core.registry import Registry

REGISTRY: Registry[type[Backend]] = Registry("backend", __name__)


def register(cls: type[Backend]) -> type[Backend]:
    REGISTRY.add(cls.name, cls)
    return cls


def names() -> list[str]:
    return REGISTRY.names()


def get(name: str) -> Backend:
    return REGISTRY.get(name)()


__all__ = ["REGISTRY", "Backend", "BackendUnavailable", "Lab", "get", "names", "register"]
