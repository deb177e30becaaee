"""The /workers routes, served for real, over a moto-backed fleet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from baton.fleet import schedule_id
from baton.web import ApiTokens, Role, create_app, serve_http
from tests.fleet.conftest import Cloud
from tests.fleet.harness import Running, fleet_node, settings_for
from tests.integration.test_node import eventually

TOKEN = "fleet-admin-token-0123"
VIEWER = "fleet-viewer-token-0123"


@pytest.fixture
async def served(cloud: Cloud, tmp_path: Path) -> AsyncIterator[tuple[Running, httpx.AsyncClient]]:
    async with fleet_node(settings_for(cloud, tmp_path), tmp_path) as running:
        tokens = ApiTokens.of([(TOKEN, Role.ADMIN), (VIEWER, Role.VIEWER)])
        app = create_app(running.baton, tokens=tokens)
        app.include_router(running.fleet.router())
        started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        server = asyncio.create_task(
            serve_http(
                running.baton, app, port=0, on_started=started.set_result, handle_signals=False
            )
        )
        url = await asyncio.wait_for(started, 10)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=20) as client:
            yield running, client
        running.baton.stop()
        await server


async def test_register_list_get_metrics_refresh_delete(
    cloud: Cloud, served: tuple[Running, httpx.AsyncClient]
) -> None:
    _, client = served
    (iid,) = await cloud.launch(1)
    await cloud.feed([iid], cpu=33.0, memory=44.0)
    created = await client.post("/workers", json={"instance_id": iid, "name": "alpha"})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "alpha" and created.json()["status"] == "running"
    assert created.headers["location"] == f"/workers/{iid}"
    dup = await client.post("/workers", json={"instance_id": iid})
    assert dup.status_code == 409 and dup.headers["content-type"] == "application/problem+json"
    missing = await client.post("/workers", json={"instance_id": "i-0000000000000000f"})
    assert missing.status_code == 422 and missing.json()["field"] == "instance_id"
    assert (await client.post("/workers", json={"instance_id": "nope"})).status_code == 422
    body = {"instance_id": "i-0000000000000000a", "region": "xx-nowhere-9"}
    nowhere = await client.post("/workers", json=body)
    assert nowhere.status_code == 422 and nowhere.json()["field"] == "region"

    refresh = await client.post(f"/workers/{iid}/refresh")
    assert refresh.status_code == 202
    body = refresh.json()
    assert body["run_id"].startswith(f"{schedule_id(iid)}@manual:refresh:") and body["due_at"]
    again = (await client.post(f"/workers/{iid}/refresh")).json()
    assert again["run_id"] == body["run_id"]  # at most one waiting per worker

    async def collected() -> dict | None:  # type: ignore[type-arg]
        worker = (await client.get(f"/workers/{iid}")).json()
        return worker if worker["cpu_utilization"] is not None else None

    worker = await eventually(collected, within=20)
    assert (worker["cpu_utilization"], worker["memory_utilization"]) == (33.0, 44.0)
    listed = (await client.get("/workers", params={"status": "running"})).json()
    assert [w["id"] for w in listed] == [iid]
    assert (await client.get("/workers", params={"status": "stopped"})).json() == []
    assert (await client.get("/workers", params={"status": "asleep"})).status_code == 422
    samples = (await client.get(f"/workers/{iid}/metrics")).json()["samples"]
    assert samples[0]["cpu_utilization"] == 33.0

    async with httpx.AsyncClient(
        base_url=str(client.base_url), headers={"Authorization": f"Bearer {VIEWER}"}
    ) as viewer:
        assert (await viewer.get("/workers")).status_code == 200
        assert (await viewer.delete(f"/workers/{iid}")).status_code == 403
    assert (await client.delete(f"/workers/{iid}")).status_code == 204
    assert (await client.get(f"/workers/{iid}")).status_code == 404
    assert (await client.get(f"/workers/{iid}/metrics")).status_code == 404
    assert (await client.post(f"/workers/{iid}/refresh")).status_code == 404
    assert (await client.delete(f"/workers/{iid}")).status_code == 404
    assert (await client.get(f"/admin/jobs/{schedule_id(iid)}")).status_code == 404


async def test_import_registers_matching_instances_once(
    cloud: Cloud, served: tuple[Running, httpx.AsyncClient]
) -> None:
    _, client = served
    cml = await cloud.launch(3, name="cml-worker")
    await cloud.launch(2, name="build-box")
    first = await client.post("/workers/import", json={"tags": ["Name=cml-*"]})
    assert first.status_code == 200, first.text
    assert sorted(w["id"] for w in first.json()["registered"]) == sorted(cml)
    second = (await client.post("/workers/import", json={})).json()  # default: Name=cml-*
    assert second["registered"] == [] and sorted(second["already"]) == sorted(cml)
    jobs = (await client.get("/admin/jobs", params={"id_prefix": "worker-metrics:"})).json()
    assert len(jobs["items"]) == 3
    bad = await client.post("/workers/import", json={"tags": ["Name"]})
    assert bad.status_code == 422 and bad.json()["field"] == "tag"


async def test_refresh_of_a_terminated_worker_is_a_conflict(
    cloud: Cloud, served: tuple[Running, httpx.AsyncClient]
) -> None:
    _, client = served
    (iid,) = await cloud.launch(1)
    await client.post("/workers", json={"instance_id": iid})
    await cloud.terminate(iid)
    await client.post(f"/workers/{iid}/refresh")

    async def terminated() -> bool:
        return (await client.get(f"/workers/{iid}")).json()["status"] == "terminated"

    await eventually(terminated, within=20)
    conflict = await client.post(f"/workers/{iid}/refresh")
    assert conflict.status_code == 409 and "terminated" in conflict.json()["detail"]
