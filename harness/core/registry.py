"""The one registry mechanism: topologies, servers, clients, backends, checks and fixes each
keep their named kinds in a Registry. Entries register themselves when their package's
modules are imported (a new kind is one new file); a name registered twice is refused.
Listings and the CLI's valid choices come from here, ordered by each entry's `order`."""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class DuplicateName(ValueError):
    """Two entries of one registry share a name."""


class Registry(Generic[T]):
    """Named entries of one kind. `package`: the package whose modules (not starting with
    "_") register the entries; or `load`, a function that adds them (topologies come from
    files). Either runs once, on first use, by one thread."""

    def __init__(
        self, what: str, package: str | None = None, load: Callable[[Registry[T]], None] | None = None
    ) -> None:
        self.what, self.package, self._load_fn = what, package, load
        self._items: dict[str, T] = {}
        self._loaded = package is None and load is None
        self._loading = False
        self._lock = threading.RLock()  # workers may ask first, at the same time

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            raise DuplicateName(f"{self.what} {name!r} is registered twice")
        self._items[name] = item
        return item

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:  # an import that asks again (same thread) sees what is loaded so far
            if self._loaded or self._loading:
                return
            self._loading = True
            try:
                if self._load_fn is not None:
                    self._load_fn(self)
                    return
                assert self.package is not None
                path = importlib.import_module(self.package).__path__
                for mod in pkgutil.iter_modules(path):
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

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        """The entries, in order."""
        return iter([self._items[n] for n in self.names()])
