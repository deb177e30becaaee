"""Stores: the persistence backends behind one contract (:class:`baton.store.base.Store`)."""

from __future__ import annotations

from urllib.parse import urlsplit

from baton.errors import ConfigurationError
from baton.store.base import Store


def store_from_url(url: str) -> Store:
    """Build the store a URL names: ``sqlite:///path``, ``redis://host:6379/1``
    (``rediss://`` for TLS, ``?prefix=app:`` for the key prefix), ``memory://``.

    The concrete store module is imported only when its scheme is used, so that an
    optional driver is needed only by those who use it.
    """
    scheme = urlsplit(url).scheme
    if scheme in ("sqlite", "sqlite+aiosqlite"):
        from baton.store.sqlite import SQLiteStore

        path = url.split("://", 1)[1]
        if not path.startswith("/") or path in ("/", "/:memory:"):
            raise ConfigurationError(
                f"cannot read the SQLite path in {url!r} (try sqlite:///./baton.db)"
            )
        return SQLiteStore(path[1:])
    if scheme == "memory":
        from baton.store.memory import MemoryStore

        return MemoryStore()
    if scheme in ("redis", "rediss"):
        from baton.store.redis import RedisStore

        return RedisStore(url)
    if scheme == "postgresql":
        raise ConfigurationError("the postgresql store is not available in this version of baton")
    raise ConfigurationError(
        f"unknown store URL scheme {scheme!r} in {url!r} "
        "(use sqlite:///path, redis://host:port/db or memory://)"
    )


__all__ = ["Store", "store_from_url"]
