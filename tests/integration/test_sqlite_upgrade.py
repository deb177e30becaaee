"""A SQLite file written at an older schema version opens under the current one and loses
nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from baton import Baton, RunState
from tests.jobs_for_tests import ALL_JOBS, Record


async def test_a_version_1_file_gains_lease_losses_and_keeps_its_schedules_and_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "baton.db"
    url = f"sqlite:///{path}"
    async with Baton(store=url, jobs=ALL_JOBS) as baton:
        await baton.add(Record(label="x"), id="kept", trigger={"interval": {"seconds": 60}})
        await baton.enqueue(Record(label="y"), key="queued")
    # Make the file what version 1 wrote: no lease_losses column, version "1".
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE baton_runs DROP COLUMN lease_losses")
        conn.execute("UPDATE baton_meta SET value = '1' WHERE key = 'version'")
    async with Baton(store=url, jobs=ALL_JOBS) as baton:
        assert (await baton.get("kept")).type == "record"
        (run,) = (await baton.runs()).items
        assert run.state is RunState.QUEUED and run.lease_losses == 0
    with sqlite3.connect(path) as conn:
        (version,) = conn.execute("SELECT value FROM baton_meta WHERE key = 'version'").fetchone()
    assert version == "3"


async def test_a_version_2_file_gains_dependencies_and_the_waiting_index(tmp_path: Path) -> None:
    path = tmp_path / "baton.db"
    url = f"sqlite:///{path}"
    async with Baton(store=url, jobs=ALL_JOBS) as baton:
        await baton.enqueue(Record(label="y"), key="queued")
    # Make the file what version 2 wrote: no dependencies column nor waiting index.
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ix_baton_runs_waiting")
        conn.execute("ALTER TABLE baton_runs DROP COLUMN dependencies")
        conn.execute("UPDATE baton_meta SET value = '2' WHERE key = 'version'")
    async with Baton(store=url, jobs=ALL_JOBS) as baton:
        (run,) = (await baton.runs()).items
        assert run.id == "record@once:queued" and run.after is None
        child = await baton.enqueue(Record(label="z"), key="child", after=[run.id])
        assert (await baton.get_run(child.id)).after is not None
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        (version,) = conn.execute("SELECT value FROM baton_meta WHERE key = 'version'").fetchone()
    assert "ix_baton_runs_waiting" in names and version == "3"
