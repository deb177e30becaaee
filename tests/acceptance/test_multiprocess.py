"""Three `baton worker` processes on one SQLite file: one run per tick, none lost.

200 schedules fire every second for 20 s. Half-way through, one process is killed
with SIGKILL while it is in the middle of runs; the others must re-run those runs once
its leases expire, and no tick may get a second run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.acceptance.kill import kill_busiest_mid_run

pytestmark = pytest.mark.slow


@pytest.mark.timeout(600)
async def test_three_workers_one_run_per_tick_and_a_killed_worker_is_covered(
    tmp_path: Path,
) -> None:
    await kill_busiest_mid_run(
        f"sqlite:///{tmp_path}/baton.db", tmp_path, schedules=200, seconds=20, lease=3.0
    )
