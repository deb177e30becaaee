"""Every hostile input found against the admin API: a 4xx problem naming the field, nothing
stored, and the listing still works. Secrets stay hidden from a node that cannot tell them."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import pytest

from baton import Baton, Job, RunState, Secret, job
from baton.web import ApiTokens, Role, create_app
from tests.integration.test_node import eventually
from tests.jobs_for_tests import ALL_JOBS, Recorder, container_for
from tests.web.conftest import ADMIN, NODE, VIEWER, Api, schedule

pytestmark = pytest.mark.timeout(60)

PROBLEM = "application/problem+json"
BIG = "99999999999999999999999"
SECRET = "SUPERSECRETVALUE42"


def _job(**over: Any) -> str:
    return json.dumps(schedule("h", **over))


def _interval(**body: Any) -> str:
    return _job(trigger={"interval": body})


#: method, path, raw JSON body (None: no body), extra headers, status, field
CASES: list[tuple[str, str, str | None, dict[str, str], int, str | None]] = [
    (
        "POST",
        "/admin/jobs",
        _interval(seconds=1).replace("1}", "Infinity}"),
        {},
        422,
        "trigger.interval.seconds",
    ),
    (
        "POST",
        "/admin/jobs",
        _interval(seconds=1).replace("1}", "NaN}"),
        {},
        422,
        "trigger.interval.seconds",
    ),
    ("POST", "/admin/jobs", _interval(seconds=1e300), {}, 422, "trigger.interval.seconds"),
    ("POST", "/admin/jobs", _interval(weeks=1e6), {}, 422, "trigger.interval.weeks"),
    ("POST", "/admin/jobs", _interval(seconds=1, jitter=1e300), {}, 422, "trigger.interval.jitter"),
    ("POST", "/admin/jobs", _interval(seconds=0.0001), {}, 422, "trigger.interval"),
    (
        "POST",
        "/admin/jobs",
        _job(trigger={"calendar": {"years": 100000}}),
        {},
        422,
        "trigger.calendar.years",
    ),
    (
        "POST",
        "/admin/jobs",
        _job(trigger={"date": "0001-01-01T00:00:00+14:00"}),
        {},
        422,
        "trigger.date",
    ),
    (
        "POST",
        "/admin/jobs",
        _job(trigger={"date": "9999-12-31T23:00:00-05:00"}),
        {},
        422,
        "trigger.date",
    ),
    (
        "POST",
        "/admin/jobs",
        _job(trigger={"cron": "* * * * *", "timezone": "localtime"}),
        {},
        422,
        "trigger.timezone",
    ),
    (
        "POST",
        "/admin/jobs",
        _job(payload={"label": "x"}).replace('"x"', '"\\ud800"'),
        {},
        422,
        "payload.label",
    ),
    (
        "POST",
        "/admin/jobs",
        _job(payload={"label": "x"}).replace('"x"', "-Infinity"),
        {},
        422,
        "payload.label",
    ),
    ("POST", "/admin/jobs", _job().replace('"h"', '"\\ud800"', 1), {}, 422, "id"),
    ("POST", "/admin/jobs", _job().replace('"h"', '"rtl\\u202eevil"', 1), {}, 422, "id"),
    ("POST", "/admin/jobs", _job().replace('"h"', '"zero\\u200bwidth"', 1), {}, 422, "id"),
    ("POST", "/admin/jobs", _job().replace('"h"', '"a/b"', 1), {}, 422, "id"),
    (
        "POST",
        "/admin/jobs",
        _job(payload={"label": "x"}).replace('"x"', "[" * 5000 + "]" * 5000),
        {},
        422,
        None,  # the body as a whole: the parser gives up before it knows where
    ),
    ("POST", "/admin/jobs", _job(policy={"timeout": 1e300}), {}, 422, "policy.timeout"),
    (
        "POST",
        "/admin/jobs",
        _job(policy={"retry": {"backoff": 8.64e13}}),
        {},
        422,
        "policy.retry.backoff",
    ),
    ("POST", "/admin/jobs/w:1/trigger", '{"key": "\\ud800"}', {}, 422, "key"),
    ("POST", "/admin/jobs/w:1/trigger", '{"key": "c@2026-11-27T10:00:00Z"}', {}, 422, "key"),
    ("GET", "/admin/runs?since=0001-01-01T00:00:00%2B14:00", None, {}, 422, "since"),
    ("GET", "/admin/runs?since=9999-12-31T23:00:00-05:00", None, {}, 422, "since"),
    ("GET", f"/admin/runs?cursor={BIG}", None, {}, 422, "cursor"),
    ("GET", f"/admin/jobs/w:1/runs?cursor={BIG}", None, {}, 422, "cursor"),
    ("GET", f"/admin/events?after={BIG}", None, {}, 422, "after"),
    ("GET", "/admin/events", None, {"Last-Event-ID": BIG}, 422, "Last-Event-ID"),
    ("PUT", "/admin/jobs/x%2Fruns", _job(), {}, 405, None),
    ("PUT", "/admin/jobs/0/trigger", _job(), {}, 405, None),
    ("PUT", "/admin/jobs/%E2%80%AEevil", _job(), {}, 422, "id"),
    ("PUT", "/admin/jobs/" + "x" * 201, _job(), {}, 422, "schedule_id"),
    ("GET", "/admin/runs/" + "x" * 400, None, {}, 422, "run_id"),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "field"),
    CASES,
    ids=[f"{c[0]} {c[1][:40]} {(c[2] or '')[-40:]}" for c in CASES],
)
async def test_hostile_input_gets_a_problem_naming_the_field_and_stores_nothing(
    admin: httpx.AsyncClient,
    method: str,
    path: str,
    body: str | None,
    headers: dict[str, str],
    status: int,
    field: str | None,
) -> None:
    assert (await admin.post("/admin/jobs", json=schedule("w:1"))).status_code == 201
    sent = {"Content-Type": "application/json", **headers} if body is not None else headers
    response = await admin.request(method, path, content=body, headers=sent)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status and problem["detail"]
    assert problem.get("field") == field, problem
    listed = await admin.get("/admin/jobs")
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["items"]] == ["w:1"]
    runs = (await admin.get("/admin/runs")).json()["items"]
    assert runs == []


async def test_a_405_lists_every_method_of_the_path(admin: httpx.AsyncClient) -> None:
    one = await admin.request("OPTIONS", "/admin/jobs/0")
    assert one.status_code == 405 and one.headers["allow"] == "DELETE, GET, PUT"
    action = await admin.put("/admin/jobs/0/trigger", json=schedule())
    assert action.status_code == 405 and action.headers["allow"] == "POST"
    listing = await admin.request("OPTIONS", "/admin/jobs")
    assert listing.headers["allow"] == "GET, POST"


def _raw_request(url: str, head: str, chunks: list[bytes]) -> bytes:
    """Send ``head`` and ``chunks`` on a plain socket; return what the server answered."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading it all: the point
        answer = b""
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


async def test_a_50_mb_body_is_refused_before_it_is_read(api: Api) -> None:
    head = (
        "POST /admin/jobs HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
    )
    answer = await asyncio.to_thread(_raw_request, api.url, head, [b"{" * 1024])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer


async def test_a_chunked_body_is_cut_off_at_the_limit(api: Api) -> None:
    head = (
        "POST /admin/jobs HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: Bearer {ADMIN}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b" " * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    answer = await asyncio.to_thread(_raw_request, api.url, head, [chunk] * 6 + [b"0\r\n\r\n"])
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert (await api.baton.list()).items == []


async def test_a_lowercase_bearer_scheme_is_accepted(api: Api) -> None:
    async with httpx.AsyncClient(base_url=api.url) as client:
        answer = await client.get("/admin/jobs", headers={"Authorization": f"bearer {VIEWER}"})
        assert answer.status_code == 200


async def test_the_poison_schedule_is_refused_and_a_healthy_one_keeps_firing(
    api: Api, admin: httpx.AsyncClient
) -> None:
    poison = schedule("poison", trigger={"interval": {"seconds": 1, "jitter": 1e300}})
    assert (await admin.post("/admin/jobs", json=poison)).status_code == 422
    healthy = schedule("healthy", trigger={"interval": {"seconds": 0.2}})
    assert (await admin.post("/admin/jobs", json=healthy)).status_code == 201

    async def fired() -> bool:
        page = await api.baton.runs(schedule_id="healthy", state=RunState.SUCCEEDED)
        return len(page.items) >= 3

    await eventually(fired)
    assert [s.id for s in (await api.baton.list()).items] == ["healthy"]


# -- secrets --------------------------------------------------------------------------------


@job("leaky")
class Leaky(Job):
    """Fails with its own key in the message, as careless client libraries do."""

    url: str
    api_key: Annotated[str, Secret()]

    async def run(self) -> None:
        raise PermissionError(f"the service refused the key {self.api_key} at {self.url}")


async def _seed_secrets(url: str) -> None:
    """A schedule and a dead run holding SECRET, written by a node that knows the types."""
    async with Baton(
        store=url,
        jobs=[*ALL_JOBS, Leaky],
        container=container_for(Recorder()),
        node=NODE,
        roles={"scheduler", "worker"},
    ) as baton:
        payload = {"url": "https://hooks.example", "api_key": SECRET}
        await baton.add(
            "leaky", id="leak", payload=payload, trigger={"interval": {"seconds": 3600}}
        )
        run = await baton.trigger("leak", key="now")

        async def dead() -> bool:
            return (await baton.get_run(run.id)).state is RunState.DEAD

        await eventually(dead)


@pytest.fixture
async def seeded(tmp_path: Path) -> AsyncIterator[str]:
    url = f"sqlite:///{tmp_path}/secrets.db"
    await _seed_secrets(url)
    yield url


async def _everything_a_viewer_reads(client: httpx.AsyncClient) -> str:
    run_id = "leak@manual:now"
    answers = [
        await client.get("/admin/jobs"),
        await client.get("/admin/jobs/leak"),
        await client.get("/admin/jobs/leak/runs"),
        await client.get("/admin/runs"),
        await client.get(f"/admin/runs/{run_id}"),
    ]
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers]
    return "\n".join(a.text for a in answers)


@pytest.mark.parametrize("knows_types", [False, True], ids=["api-only", "with-types"])
async def test_a_viewer_sees_no_secret_value_anywhere(seeded: str, knows_types: bool) -> None:
    jobs = [*ALL_JOBS, Leaky] if knows_types else []
    async with Baton(store=seeded, jobs=jobs) as baton:
        app = create_app(baton, tokens=ApiTokens.of([(VIEWER, Role.VIEWER)]))
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {VIEWER}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as client:
            shown = await _everything_a_viewer_reads(client)
            run = (await client.get("/admin/runs/leak@manual:now")).json()
    assert SECRET not in shown
    assert run["state"] == "dead" and "refused the key ***" in run["error"]["message"]
    if knows_types:
        assert run["payload"] == {"url": "https://hooks.example", "api_key": "***"}
    else:
        assert run["payload"] == {"url": "***", "api_key": "***"}
