"""`baton breakers list|reset`, driven in subprocesses as an operator would."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from baton import Baton
from baton.model import BreakerPolicy, RunState
from baton.store._breakers import Verdict
from baton.store.base import BreakerReport, ClaimRequest, Completion, Outcome
from tests.acceptance.procs import run_cli
from tests.contract.helpers import run

DEP = BreakerPolicy(key="dep[1]", failures=1, cooldown=timedelta(minutes=5))


async def test_list_shows_an_open_breaker_and_reset_closes_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/baton.db"
    async with Baton(store=url) as baton:
        store = baton.store
        await store.enqueue_run(run("f", await store.now()))
        request = ClaimRequest(owner="t", limit=1, lease=timedelta(seconds=60))
        (claimed,) = await store.claim_runs(request)
        report = BreakerReport(key="dep[1]", policy=DEP, verdict=Verdict.FAILURE)
        done = Completion(
            run_id="f",
            lease_token=claimed.lease_token or "",
            outcome=Outcome(state=RunState.DEAD, breaker=report),
        )
        await store.complete_runs([done])
    listed = run_cli("--store", url, "breakers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (found,) = json.loads(listed.stdout)
    assert found["key"] == "dep[1]" and found["state"] == "open"
    table = run_cli("--store", url, "breakers", "list", env={"COLUMNS": "200"})
    assert "dep[1]" in table.stdout and "open" in table.stdout
    reset = run_cli("--store", url, "breakers", "reset", "dep[1]")
    assert reset.returncode == 0 and "dep[1] is closed" in reset.stdout
    missing = run_cli("--store", url, "breakers", "reset", "nope")
    assert missing.returncode == 1 and "no circuit breaker has the key 'nope'" in missing.stderr
