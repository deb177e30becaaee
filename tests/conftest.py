"""Shared fixtures: a controllable clock and every store, fresh for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baton.store.base import Store
from baton.store.memory import MemoryStore
from baton.store.sqlite import SQLiteStore

STORE_KINDS = ["memory", "sqlite"]


class Clock:
    """A clock the test moves by hand; stores read it as their own clock."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_store(kind: str, tmp_path: Path, clock: Callable[[], datetime]) -> Store:
    if kind == "memory":
        return MemoryStore(clock=clock)
    return SQLiteStore(tmp_path / "baton.db", clock=clock)


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(store_kind: str, tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    async with make_store(store_kind, tmp_path, clock) as opened:
        yield opened
