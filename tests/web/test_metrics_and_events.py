"""/metrics moves when runs happen; /admin/events streams them and resumes without gaps."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.test_node import eventually
from tests.web.conftest import Api, schedule


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_counters_histograms_and_gauges_move_with_runs(
    api: Api, admin: httpx.AsyncClient
) -> None:
    await admin.post("/admin/jobs", json=schedule("m"))
    await admin.post("/admin/jobs", json=schedule("p", state="paused"))
    before = await scrape(admin)
    assert value(before, "baton_schedules", state="active") == 1
    assert value(before, "baton_schedules", state="paused") == 1
    assert value(before, "baton_node_heartbeat_age_seconds", node="api-node") < 60
    for _ in range(3):
        await admin.post("/admin/jobs/m/trigger")

    async def counted() -> dict[Any, float] | None:
        now = await scrape(admin)
        done = value(now, "baton_runs_total", type="record", outcome="succeeded")
        return (
            now
            if done - value(before, "baton_runs_total", type="record", outcome="succeeded") == 3
            else None
        )

    after = await eventually(counted)
    assert (
        value(after, "baton_runs_started_total", type="record")
        - value(before, "baton_runs_started_total", type="record")
        == 3
    )
    for histogram in ("baton_run_duration_seconds", "baton_run_lateness_seconds"):
        grew = value(after, f"{histogram}_count", type="record") - value(
            before, f"{histogram}_count", type="record"
        )
        assert grew == 3, histogram
    assert value(after, "baton_runs_queued") == 0 and value(after, "baton_runs_running") == 0


async def test_sse_streams_run_events_and_resumes_after_last_event_id(
    api: Api, admin: httpx.AsyncClient
) -> None:
    await admin.post("/admin/jobs", json=schedule("e"))
    received: list[tuple[str, str, dict[str, Any]]] = []

    async def listen(headers: dict[str, str], until_succeeded: int) -> None:
        async with aconnect_sse(admin, "GET", "/admin/events", headers=headers) as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            async for message in source.aiter_sse():
                if not message.data:
                    continue  # the retry hint: no event (browsers dispatch nothing either)
                received.append((message.id, message.event, json.loads(message.data)))
                done = sum(1 for _, kind, _ in received if kind == "run.succeeded")
                if done >= until_succeeded:
                    return

    first = asyncio.create_task(listen({}, until_succeeded=2))
    await asyncio.sleep(0.3)  # the stream starts at the end of the log
    for _ in range(2):
        await admin.post("/admin/jobs/e/trigger")
    await asyncio.wait_for(first, 15)
    last_seen = received[-1][0]
    # While nobody listens, more runs happen; a reconnect with Last-Event-ID gets them all.
    for _ in range(2):
        await admin.post("/admin/jobs/e/trigger")
    await eventually(lambda: _ran(api, 4))
    await asyncio.wait_for(listen({"Last-Event-ID": last_seen}, until_succeeded=4), 15)

    log = await api.baton.events(after=received[0][0], limit=1000)
    streamed_ids = [eid for eid, _, _ in received[1:]]
    assert streamed_ids == [e.id for e in log][: len(streamed_ids)]  # in order, no gap
    kinds = [kind for _, kind, _ in received]
    assert kinds.count("run.started") == 4 and kinds.count("run.succeeded") == 4
    assert all(data["subject"].startswith("e@") for _, k, data in received if k.startswith("run."))


async def test_sse_refuses_an_event_id_the_store_never_gave(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/admin/events", headers={"Last-Event-ID": "yesterday"})
    assert response.status_code == 422 and response.json()["field"] == "Last-Event-ID"


async def _ran(api: Api, count: int) -> bool:
    return len(api.recorder.calls) == count


pytestmark = pytest.mark.timeout(60)
