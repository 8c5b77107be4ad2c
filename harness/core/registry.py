"""A registry of named kinds (servers, clients): entries register themselves on import of
their package's modules, and the CLI's valid choices come from here."""
from __future__ import annotations

import importlib
import pkgutil
import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, package: str, path: list[str], what: str) -> None:
        self.package, self.path, self.what = package, path, what
        self._items: dict[str, T] = {}
        self._loaded = False
        self._loading = False
        self._lock = threading.RLock()  # workers may ask first, at the same time

    def add(self, name: str, item: T) -> None:
        self._items[name] = item

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:  # an import that asks again (same thread) sees what is loaded so far
            if self._loaded or self._loading:
                return
            self._loading = True
            try:
                for mod in pkgutil.iter_modules(self.path):
                    if not mod.name.startswith("_"):
                        importlib.import_module(f"{self.package}.{mod.name}")
            finally:
                self._loading, self._loaded = False, True

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items, key=lambda n: (getattr(self._items[n], "order", 0), n))

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(f"unknown {self.what} {name!r}; valid: {', '.join(self.names())}") from None
