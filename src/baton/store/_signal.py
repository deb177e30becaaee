"""Change counters that any number of waiters can sleep on without missing a change.

Changes come in topics so that a loop wakes only for what it acts on:

- ``schedules``: a schedule was added, replaced, paused, resumed or removed;
- ``queue``: a run became claimable (fired, enqueued, retrying, requeued, released);
- ``done``: a run finished, freeing a concurrency slot of its schedule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Literal

Topic = Literal["schedules", "queue", "done"]
TOPICS: tuple[Topic, ...] = ("schedules", "queue", "done")
Marker = tuple[int, ...]


class ChangeSignal:
    """Per-topic change counters and one event that every bump sets.

    A waiter reads :meth:`marker` before it looks at the store, and later waits with
    ``since=marker``: a change that landed in between returns at once instead of being
    lost between the look and the sleep.
    """

    def __init__(self) -> None:
        self._counts = dict.fromkeys(TOPICS, 0)
        self._event = asyncio.Event()
        self.waiters = 0

    def marker(self) -> Marker:
        return tuple(self._counts[t] for t in TOPICS)

    def bump(self, *topics: Topic) -> None:
        for topic in topics or TOPICS:
            self._counts[topic] += 1
        self._event.set()
        self._event = asyncio.Event()

    def _moved(self, since: Marker, topics: Iterable[Topic]) -> bool:
        return any(self._counts[t] != since[TOPICS.index(t)] for t in topics)

    async def wait(self, max_wait: float, topics: Iterable[Topic], since: Marker | None) -> bool:
        chosen = tuple(topics)
        start = since if since is not None else self.marker()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        self.waiters += 1
        try:
            while not self._moved(start, chosen):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(self._event.wait(), remaining)
                except TimeoutError:
                    return False
            return True
        finally:
            self.waiters -= 1
