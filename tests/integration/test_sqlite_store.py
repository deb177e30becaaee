"""What only the SQLite store has: a file that persists, a schema version, foreign files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from baton.errors import StoreError, StoreVersionError
from baton.store import store_from_url
from baton.store.sqlite import SQLiteStore
from tests.conftest import Clock
from tests.contract.helpers import run, schedule


async def test_schedules_and_queued_runs_survive_reopening(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "baton.db"
    async with SQLiteStore(path, clock=clock) as store:
        await store.add_schedule(schedule("a", clock.now))
        await store.enqueue_run(run("r1", clock.now))
    async with SQLiteStore(path, clock=clock) as store:
        assert await store.get_schedule("a") is not None
        got = await store.get_run("r1")
        assert got is not None and got.state.value == "queued"


async def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreVersionError, match=r"not a baton store.*users"):
        async with SQLiteStore(path):
            pass
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["users"]


async def test_a_newer_schema_is_refused_with_an_upgrade_hint(tmp_path: Path) -> None:
    path = tmp_path / "baton.db"
    async with SQLiteStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE baton_meta SET value = '99' WHERE key = 'version'")
    with pytest.raises(StoreVersionError, match=r"newer baton.*99"):
        async with SQLiteStore(path):
            pass


async def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the pages you are looking for" * 100)
    with pytest.raises(StoreVersionError, match="not an SQLite database"):
        async with SQLiteStore(path):
            pass


async def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        async with SQLiteStore(tmp_path / "nope" / "baton.db"):
            pass


def test_store_urls() -> None:
    assert isinstance(store_from_url("sqlite:///./x.db"), SQLiteStore)
    assert store_from_url("sqlite:////tmp/x.db").path == Path("/tmp/x.db")  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="unknown store URL scheme"):
        store_from_url("mysql://x")
