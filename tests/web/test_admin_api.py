"""Every endpoint of the admin API, its error statuses, and what it hides."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton import RunState
from tests.integration.test_node import eventually
from tests.jobs_for_tests import Recorder
from tests.web.conftest import NODE, VIEWER, Api, schedule, start_api

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body


# -- health and auth ----------------------------------------------------------------------


async def test_health_and_readiness_need_no_token(api: Api) -> None:
    async with api.client(token=None) as anon:
        assert (await anon.get("/healthz")).json() == {"status": "ok"}
        ready = await anon.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_missing_or_wrong_token_is_401_with_a_bearer_challenge(api: Api) -> None:
    async with api.client(token=None) as anon:
        missing = await anon.get("/admin/jobs")
    async with api.client(token="not-a-token-at-all") as wrong:
        bad = await wrong.get("/admin/jobs")
    for response in (missing, bad):
        problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    async with httpx.AsyncClient(base_url=api.url, auth=("admin", "pw")) as basic:
        problem(await basic.get("/admin/runs"), 401)


async def test_a_viewer_reads_but_may_not_change(api: Api, admin: httpx.AsyncClient) -> None:
    await admin.post("/admin/jobs", json=schedule())
    async with api.client(token=VIEWER) as viewer:
        assert (await viewer.get("/admin/jobs/w:1")).status_code == 200
        assert (await viewer.get("/metrics")).status_code == 200
        problem(await viewer.post("/admin/jobs", json=schedule("w:2")), 403)
        problem(await viewer.post("/admin/jobs/w:1/pause"), 403)
        problem(await viewer.delete("/admin/jobs/w:1"), 403)
    assert (await admin.get("/admin/jobs/w:1")).json()["state"] == "active"


# -- jobs ---------------------------------------------------------------------------------


async def test_create_then_get_returns_the_schedule_as_posted(admin: httpx.AsyncClient) -> None:
    created = await admin.post(
        "/admin/jobs", json=schedule(policy={"priority": 5, "retry": {"max_attempts": 3}})
    )
    assert created.status_code == 201 and created.headers["location"] == "/admin/jobs/w:1"
    body = created.json()
    assert body["id"] == "w:1" and body["type"] == "record" and body["payload"] == {"label": "w:1"}
    assert body["trigger"]["interval"]["seconds"] == 3600
    assert body["policy"]["priority"] == 5 and body["policy"]["retry"]["max_attempts"] == 3
    assert body["state"] == "active" and body["next_fire_at"] and body["version"] == 1
    assert (await admin.get("/admin/jobs/w:1")).json() == body
    odd = await admin.post("/admin/jobs", json=schedule("reports:daily?x#1"))
    assert odd.headers["location"] == "/admin/jobs/reports:daily%3Fx%231"
    assert (await admin.get(odd.headers["location"])).json()["id"] == "reports:daily?x#1"
    problem(await admin.post("/admin/jobs", json=schedule("reports/daily")), 422, "id")


async def test_create_errors_name_the_field(admin: httpx.AsyncClient) -> None:
    await admin.post("/admin/jobs", json=schedule())
    assert "w:1" in problem(await admin.post("/admin/jobs", json=schedule()), 409)["detail"]
    problem(
        await admin.post("/admin/jobs", json=schedule("b", trigger={"often": 1})), 422, "trigger"
    )
    problem(
        await admin.post("/admin/jobs", json=schedule("b", payload={"label": 3})),
        422,
        "payload.label",
    )
    problem(
        await admin.post("/admin/jobs", json=schedule("b", payload={"lable": "x"})),
        422,
        "payload.lable",
    )
    problem(
        await admin.post("/admin/jobs", json=schedule("b", policy={"priority": 5000})),
        422,
        "policy.priority",
    )
    problem(await admin.post("/admin/jobs", json=schedule("b", type="nope")), 422, "type")
    problem(await admin.post("/admin/jobs", json=schedule("has space")), 422, "id")
    problem(await admin.post("/admin/jobs", json={**schedule("b"), "extra": 1}), 422, "extra")
    bad_json = await admin.post(
        "/admin/jobs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code in (400, 422) and bad_json.headers["content-type"] == PROBLEM
    assert (await admin.get("/admin/jobs")).json()["items"][0]["id"] == "w:1"


async def test_list_filters_and_pages(admin: httpx.AsyncClient) -> None:
    for i in range(5):
        await admin.post("/admin/jobs", json=schedule(f"w:{i}"))
    await admin.post("/admin/jobs", json=schedule("other", type="slow", payload={"seconds": 1}))
    await admin.post("/admin/jobs/w:3/pause")
    seen, cursor = [], None
    while True:
        params = {"id_prefix": "w:", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await admin.get("/admin/jobs", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"w:{i}" for i in range(5)]
    by_type = (await admin.get("/admin/jobs", params={"type": "slow"})).json()["items"]
    assert [s["id"] for s in by_type] == ["other"]
    paused = (await admin.get("/admin/jobs", params={"state": "paused"})).json()["items"]
    assert [s["id"] for s in paused] == ["w:3"]
    problem(await admin.get("/admin/jobs", params={"state": "sleeping"}), 422, "state")
    problem(await admin.get("/admin/jobs", params={"limit": 0}), 422, "limit")


async def test_put_creates_then_replaces(admin: httpx.AsyncClient) -> None:
    body = {k: v for k, v in schedule().items() if k != "id"}
    created = await admin.put("/admin/jobs/w:1", json=body)
    assert created.status_code == 201 and created.json()["version"] == 1
    replaced = await admin.put("/admin/jobs/w:1", json={**body, "payload": {"label": "new"}})
    assert replaced.status_code == 200
    assert replaced.json()["version"] == 2 and replaced.json()["payload"] == {"label": "new"}
    problem(await admin.put("/admin/jobs/w:1", json={**body, "trigger": {}}), 422, "trigger")
    assert (await admin.get("/admin/jobs/w:1")).json()["payload"] == {"label": "new"}


async def test_delete_then_404(admin: httpx.AsyncClient) -> None:
    await admin.post("/admin/jobs", json=schedule())
    assert (await admin.delete("/admin/jobs/w:1")).status_code == 204
    problem(await admin.get("/admin/jobs/w:1"), 404)
    problem(await admin.delete("/admin/jobs/w:1"), 404)


async def test_a_schedule_after_others_round_trips_and_guards_its_parents(
    admin: httpx.AsyncClient,
) -> None:
    await admin.post("/admin/jobs", json=schedule("w:1"))
    after = {"after": {"schedules": ["w:1"], "rule": "all_done", "timeout": 60}}
    created = await admin.post("/admin/jobs", json={**schedule("w:2"), "trigger": after})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["trigger"] == {"after": {"schedules": ["w:1"], "rule": "all_done", "timeout": 60.0}}
    assert body["next_fire_at"] is None
    loop = {"after": {"schedules": ["w:2"]}}
    body = {k: v for k, v in schedule("w:1", trigger=loop).items() if k != "id"}
    cycle = await admin.put("/admin/jobs/w:1", json=body)
    assert "w:1 -> w:2 -> w:1" in problem(cycle, 422, "trigger.after.schedules")["detail"]
    in_use = problem(await admin.delete("/admin/jobs/w:1"), 409)
    assert "'w:2'" in in_use["detail"]
    gone = await admin.delete("/admin/jobs/w:1", params={"with_dependents": "true"})
    assert gone.status_code == 204
    problem(await admin.get("/admin/jobs/w:2"), 404)


async def test_pause_resume_and_their_404s(admin: httpx.AsyncClient) -> None:
    await admin.post("/admin/jobs", json=schedule())
    paused = (await admin.post("/admin/jobs/w:1/pause")).json()
    assert paused["state"] == "paused" and paused["next_fire_at"] is None
    resumed = (await admin.post("/admin/jobs/w:1/resume")).json()
    assert resumed["state"] == "active" and resumed["next_fire_at"]
    for verb in ("pause", "resume", "trigger"):
        problem(await admin.post(f"/admin/jobs/missing/{verb}"), 404)
    problem(await admin.get("/admin/jobs/missing/runs"), 404)


async def test_trigger_runs_now_once_per_key(api: Api, admin: httpx.AsyncClient) -> None:
    await admin.post("/admin/jobs", json=schedule())
    first = await admin.post("/admin/jobs/w:1/trigger", json={"key": "req-1"})
    again = await admin.post("/admin/jobs/w:1/trigger", json={"key": "req-1"})
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"] == "w:1@manual:req-1"
    anonymous = await admin.post("/admin/jobs/w:1/trigger")
    assert anonymous.status_code == 202 and anonymous.json()["id"] != "w:1@manual:req-1"

    async def both_ran() -> bool:
        return {c[0] for c in api.recorder.calls} == {"w:1@manual:req-1", anonymous.json()["id"]}

    await eventually(both_ran)
    runs = (await admin.get("/admin/jobs/w:1/runs")).json()["items"]
    assert len(runs) == 2 and all(r["state"] == "succeeded" for r in runs)
    problem(await admin.post("/admin/jobs/w:1/trigger", json={"key": "bad id"}), 422, "key")


# -- runs ---------------------------------------------------------------------------------


async def test_runs_list_filters_get_and_404(api: Api, admin: httpx.AsyncClient) -> None:
    await admin.post("/admin/jobs", json=schedule())
    await admin.post("/admin/jobs", json=schedule("w:2"))
    for sid in ("w:1", "w:2", "w:1"):
        await admin.post(f"/admin/jobs/{sid}/trigger")
    await eventually(lambda: _true(len(api.recorder.calls) == 3))

    async def listed(**params: Any) -> list[dict[str, Any]]:
        response = await admin.get("/admin/runs", params=params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    assert len(await listed(job="w:1")) == 2
    assert len(await listed(state="succeeded")) == 3
    assert await listed(state=["queued", "running"]) == []
    assert len(await listed(since="2000-01-01T00:00:00Z")) == 3
    assert await listed(since="2999-01-01T00:00:00Z") == []
    assert len(await listed(type="record", limit=1)) == 1
    one = (await listed(job="w:2"))[0]
    got = (await admin.get(f"/admin/runs/{one['id']}")).json()
    assert got == one and got["lease_token"] is None
    problem(await admin.get("/admin/runs/missing"), 404)
    problem(await admin.get("/admin/runs", params={"state": "sleeping"}), 422, "state[0]")
    problem(await admin.get("/admin/runs", params={"since": "yesterday"}), 422, "since")
    problem(await admin.get("/admin/runs", params={"cursor": "x"}), 422, "cursor")


async def test_retry_a_dead_run_and_refuse_a_succeeded_one(
    api: Api, admin: httpx.AsyncClient
) -> None:
    await admin.post(
        "/admin/jobs",
        json=schedule("f", type="flaky", payload={"failures": 1}),
    )
    run_id = (await admin.post("/admin/jobs/f/trigger")).json()["id"]

    async def state() -> str:
        return str((await admin.get(f"/admin/runs/{run_id}")).json()["state"])

    await eventually(lambda: _is(state(), "dead"))
    retried = await admin.post(f"/admin/runs/{run_id}/retry")
    assert retried.status_code == 200
    assert retried.json()["attempt"] == 2 and retried.json()["state"] in ("queued", "running")
    await eventually(lambda: _is(state(), "succeeded"))
    problem(await admin.post(f"/admin/runs/{run_id}/retry"), 409)
    problem(await admin.post("/admin/runs/missing/retry"), 404)


async def test_cancel_a_queued_run(api: Api, admin: httpx.AsyncClient) -> None:
    run = await api.baton.enqueue(
        "record",
        key="later",
        payload={"label": "x"},
        due_at=(await api.baton.store.now()).replace(year=2099),
    )
    assert run.state is RunState.QUEUED and run.id == "record@once:later"
    cancelled = await admin.post("/admin/runs/record@once:later/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    again = await admin.post("/admin/runs/record@once:later/cancel")
    assert again.json()["state"] == "cancelled"
    problem(await admin.post("/admin/runs/missing/cancel"), 404)


# -- nodes and secrets --------------------------------------------------------------------


async def test_nodes_show_heartbeats_roles_and_running_runs(
    api: Api, admin: httpx.AsyncClient
) -> None:
    await admin.post("/admin/jobs", json=schedule("s", type="slow", payload={"seconds": 2}))
    run_id = (await admin.post("/admin/jobs/s/trigger")).json()["id"]

    async def running_here() -> list[dict[str, Any]] | None:
        nodes: list[dict[str, Any]] = (await admin.get("/admin/nodes")).json()
        return nodes if nodes and nodes[0]["runs"] == [run_id] else None

    (node,) = await eventually(running_here)
    assert node["name"] == "api-node" and node["roles"] == ["api", "scheduler", "worker"]
    assert 0 <= node["heartbeat_age"] < 60 and node["concurrency"] == 10


async def test_secret_payload_fields_are_redacted_everywhere(
    api: Api, admin: httpx.AsyncClient
) -> None:
    body = schedule("n", type="notify", payload={"url": "https://h", "api_key": "s3cr3t"})
    created = (await admin.post("/admin/jobs", json=body)).json()
    run = (await admin.post("/admin/jobs/n/trigger")).json()
    await eventually(lambda: _true(api.recorder.secrets == ["s3cr3t"]))  # the job got it
    shown = [
        created,
        (await admin.get("/admin/jobs/n")).json(),
        (await admin.get("/admin/jobs")).json()["items"][0],
        run,
        (await admin.get(f"/admin/runs/{run['id']}")).json(),
        (await admin.get("/admin/runs")).json()["items"][0],
    ]
    for item in shown:
        assert item["payload"] == {"url": "https://h", "api_key": "***"}
    events = await api.baton.events(limit=1000)
    assert "s3cr3t" not in repr([e.data for e in events])
    stored = await api.baton.get("n")
    assert stored.payload["api_key"] == "s3cr3t"


async def _true(value: bool) -> bool:
    return value


async def _is(got: Any, expected: str) -> bool:
    return await got == expected


pytestmark = pytest.mark.timeout(60)


async def test_readyz_is_503_when_the_store_does_not_answer(api: Api) -> None:
    await api.baton.store.close()
    async with api.client(token=None) as anon:
        problem(await anon.get("/readyz"), 503)
        assert (await anon.get("/healthz")).status_code == 200


async def test_an_api_only_node_runs_no_job(tmp_path: Path) -> None:
    recorder = Recorder()
    api_only = dataclasses.replace(NODE, roles=frozenset({"api"}))
    async for api in start_api(f"sqlite:///{tmp_path}/b.db", recorder, node=api_only):
        async with api.client() as admin:
            await admin.post("/admin/jobs", json=schedule())
            run_id = (await admin.post("/admin/jobs/w:1/trigger")).json()["id"]
            await asyncio.sleep(1.0)
            assert (await admin.get(f"/admin/runs/{run_id}")).json()["state"] == "queued"
            (node,) = (await admin.get("/admin/nodes")).json()
            assert node["roles"] == ["api"]
    assert recorder.calls == []
