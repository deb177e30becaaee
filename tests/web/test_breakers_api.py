"""``/admin/breakers`` and the breaker gauge, over a real server and store."""

from __future__ import annotations

from datetime import timedelta

import httpx

from baton.model import BreakerPolicy, RunState
from baton.store._breakers import Verdict
from baton.store.base import BreakerReport, ClaimRequest, Completion, Outcome
from tests.contract.helpers import run
from tests.web.conftest import VIEWER, Api

DEP = BreakerPolicy(key="aws:eu-west-1", failures=1, cooldown=timedelta(minutes=5))


async def _open(api: Api) -> None:
    store = api.baton.store
    await store.enqueue_run(run("f", await store.now()))
    (claimed,) = await store.claim_runs(
        ClaimRequest(owner="t", limit=1, lease=timedelta(seconds=60))
    )
    report = BreakerReport(key=DEP.key or "", policy=DEP, verdict=Verdict.FAILURE)
    outcome = Outcome(state=RunState.DEAD, breaker=report)
    token = claimed.lease_token or ""
    await store.complete_runs([Completion(run_id=claimed.id, lease_token=token, outcome=outcome)])


async def test_a_viewer_sees_breakers_and_only_an_admin_resets_one(
    api: Api, admin: httpx.AsyncClient
) -> None:
    await _open(api)
    async with api.client(VIEWER) as viewer:
        (found,) = (await viewer.get("/admin/breakers")).json()
        assert found["key"] == "aws:eu-west-1" and found["state"] == "open"
        refused = await viewer.post("/admin/breakers/aws:eu-west-1/reset")
        assert refused.status_code == 403
        metrics = (await viewer.get("/metrics")).text
    assert 'baton_breaker_state{key="aws:eu-west-1",state="open"} 1.0' in metrics
    reset = await admin.post("/admin/breakers/aws:eu-west-1/reset")
    assert reset.status_code == 200 and reset.json()["state"] == "closed"
    missing = await admin.post("/admin/breakers/nope/reset")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
