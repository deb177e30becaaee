"""A small cache keyed by object identity.

Records share their immutable parts: schedules added together share one trigger dict and
one policy, and a store hands out the same trigger dict each time it decodes a schedule it
decoded before. Looking such a part up by identity costs less than hashing or serialising
it by value, which is what a cache keyed by value would do on every call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class IdentityCache(Generic[K, V]):
    """Values derived from objects, found by the object's identity.

    Each entry keeps its key object alive, so an id cannot be reused by another object
    while it is cached. When full, the cache starts over (the hot keys come back at once).
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: dict[int, tuple[K, V]] = {}

    def find(self, key: K) -> V | None:
        """The value cached for this very object, or ``None``."""
        found = self._entries.get(id(key))
        return found[1] if found is not None and found[0] is key else None

    def put(self, key: K, value: V) -> V:
        if len(self._entries) >= self._size:
            self._entries.clear()
        self._entries[id(key)] = (key, value)
        return value

    def get(self, key: K, make: Callable[[K], V]) -> V:
        """The cached value for ``key``, made (and cached) on a miss."""
        found = self.find(key)
        return found if found is not None else self.put(key, make(key))
