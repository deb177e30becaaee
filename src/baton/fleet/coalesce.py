"""Gather the lookups that concurrent runs make within a few milliseconds into one call.

A thousand per-worker runs that start together each ask for one instance; the
coalescer collects their keys until none has come for ``window`` seconds (or
``max_batch`` keys are waiting, or the first has waited ``max_wait``), makes one
batched call, and hands each caller only its own answer. Waiting for a quiet gap rather
than a fixed slice matters: runs reach their AWS call one after another (each reads its
worker first), a fraction of a millisecond apart, and a fixed slice would cut that
stream into many small batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    """``await get(key)`` answers from ``fetch(keys)`` calls made for batches of keys.

    ``fetch`` returns a mapping; a key it leaves out answers ``None``. If ``fetch``
    raises, every caller of that batch gets the exception.
    """

    def __init__(
        self,
        fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]],
        *,
        window: float,
        max_batch: int,
        max_wait: float = 1.0,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._fetch = fetch
        self.window = window
        self.max_batch = max_batch
        self.max_wait = max_wait
        self._pending: dict[K, asyncio.Future[V | None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._first_at = 0.0
        self._inflight: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V | None:
        future = self._pending.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            future = loop.create_future()
            self._pending[key] = future
            if len(self._pending) >= self.max_batch:
                self._flush()
            else:
                now = loop.time()
                if self._timer is None:
                    self._first_at = now
                else:
                    self._timer.cancel()
                flush_at = min(now + self.window, self._first_at + self.max_wait)
                self._timer = loop.call_at(flush_at, self._flush)
        return await asyncio.shield(future)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, {}
        if batch:
            task = asyncio.create_task(self._answer(batch))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _answer(self, batch: dict[K, asyncio.Future[V | None]]) -> None:
        try:
            found = await self._fetch(list(batch))
        except BaseException as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for key, future in batch.items():
            if not future.done():
                future.set_result(found.get(key))
