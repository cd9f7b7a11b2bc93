"""A small thread-safe least-recently-used map, for what is costly to build and keyed by what it was built
from (overlap and batch engines, OGC layers, map display layers)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["BoundedCache"]

V = TypeVar("V")


class BoundedCache(Generic[V]):
    """At most ``size`` entries, or entries of at most ``size`` in total when ``weigh`` gives each entry a
    weight (e.g. the vertices an engine holds); reading one makes it the most recent, and the least recent
    goes first. An entry heavier than ``size`` alone is still kept, as the only one."""

    def __init__(self, size: int, weigh: Callable[[V], int] | None = None) -> None:
        self.size = size
        self._weigh = weigh or (lambda value: 1)
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value of ``key``, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: V) -> V:
        """Keep ``value`` under ``key`` and return it, letting the least recent entries go past the bound."""
        weight = self._weigh(value)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._total -= old[1]
            self._entries[key] = (value, weight)
            self._total += weight
            while self._total > self.size and len(self._entries) > 1:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._total -= dropped
        return value

    def resize(self, size: int) -> None:
        """A new bound; the least recent entries go at once if they no longer fit."""
        with self._lock:
            self.size = size
            while self._total > self.size and len(self._entries) > 1:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._total -= dropped

    @property
    def weight(self) -> int:
        """The total weight (or count) of the entries kept."""
        return self._total

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._entries.clear()
            self._total = 0
