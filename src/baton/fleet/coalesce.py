"""Gather the lookups that concurrent runs make within a few milliseconds into one call.

A thousand per-worker runs that start together each ask for one instance; the
coalescer collects their keys for ``window`` seconds (or until ``max_batch`` keys), makes
one batched call, and hands each caller only its own answer.
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
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._fetch = fetch
        self.window = window
        self.max_batch = max_batch
        self._pending: dict[K, asyncio.Future[V | None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V | None:
        future = self._pending.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._pending[key] = future
            if len(self._pending) >= self.max_batch:
                self._flush()
            elif self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self.window, self._flush)
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
