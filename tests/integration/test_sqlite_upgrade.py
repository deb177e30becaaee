"""A SQLite file written at schema version 1 opens under version 2 and loses nothing."""

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
    assert version == "2"
