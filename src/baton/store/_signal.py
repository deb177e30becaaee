"""A change counter that any number of waiters can sleep on without missing a change."""

from __future__ import annotations

import asyncio


class ChangeSignal:
    """Counts changes; waiters pass the count they last saw, so none is ever missed.

    A waiter reads :attr:`marker` before it looks at the store, and later waits with
    ``since=marker``: a change that landed in between returns at once instead of being
    lost between the look and the sleep.
    """

    def __init__(self) -> None:
        self.marker = 0
        self._event = asyncio.Event()
        self.waiters = 0

    def bump(self) -> None:
        self.marker += 1
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, max_wait: float, since: int | None) -> bool:
        if since is not None and since != self.marker:
            return True
        event = self._event
        self.waiters += 1
        try:
            await asyncio.wait_for(event.wait(), max_wait)
        except TimeoutError:
            return False
        finally:
            self.waiters -= 1
        return True
