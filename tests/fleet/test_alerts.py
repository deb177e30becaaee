"""Alerts: one per crossing, one delivery per URL across three nodes, retried, signed."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from baton import RunState
from baton.fleet import Thresholds, Worker, verify
from baton.fleet.alerts import SIGNATURE_HEADER, evaluate
from tests.fleet.conftest import Cloud
from tests.fleet.harness import fleet_node, settings_for
from tests.fleet.test_monitoring import collect_now
from tests.integration.test_node import eventually

SECRET = "webhook-signing-secret"


@dataclass
class Receiver:
    """A real HTTP endpoint that records what it is sent; ``fail`` answers 500 first."""

    url: str
    fail: dict[str, int] = field(default_factory=dict)
    received: dict[str, list[tuple[bytes, dict[str, str]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def hook(self, name: str) -> str:
        return f"{self.url}/hook/{name}"


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver(url="")

    async def handle(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        state.attempts[name] += 1
        if state.fail.get(name, 0) > 0:
            state.fail[name] -= 1
            return web.Response(status=500, text="not now")
        state.received[name].append((await request.read(), dict(request.headers)))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.url = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await runner.cleanup()


def _worker(**over: Any) -> Worker:
    return Worker(
        id="w", name="w", region="r", instance_id="i-1", created_at=datetime.now(UTC), **over
    )


def test_an_alert_is_raised_once_per_crossing_and_rearmed_5_points_below() -> None:
    limits = Thresholds(cpu=90, memory=80, rearm_margin=5)
    now = datetime.now(UTC)
    flags, alerts = evaluate(_worker(), cpu=90.0, memory=50.0, thresholds=limits, at=now)
    assert flags == {"cpu_alerting": True} and [a.metric for a in alerts] == ["cpu"]
    high = _worker(cpu_alerting=True)
    assert evaluate(high, cpu=99.0, memory=None, thresholds=limits, at=now) == ({}, [])
    assert evaluate(high, cpu=85.5, memory=None, thresholds=limits, at=now) == ({}, [])
    flags, alerts = evaluate(high, cpu=84.9, memory=81.0, thresholds=limits, at=now)
    assert flags == {"cpu_alerting": False, "memory_alerting": True}
    assert [(a.metric, a.value, a.threshold) for a in alerts] == [("memory", 81.0, 80)]


async def test_a_crossing_is_delivered_once_per_url_with_three_nodes(
    cloud: Cloud, tmp_path: Path
) -> None:
    (iid,) = await cloud.launch(1)
    await cloud.feed([iid], cpu=97.0, memory=40.0)
    async with receiver() as hooks:
        settings = settings_for(
            cloud,
            tmp_path,
            webhook_urls=[hooks.hook("a"), hooks.hook("b")],
            webhook_secret=SECRET,
        )
        async with contextlib.AsyncExitStack() as stack:
            nodes = [
                await stack.enter_async_context(fleet_node(settings, tmp_path, name=f"n{i}"))
                for i in range(3)
            ]
            await asyncio.sleep(0.3)  # every node follows the log from here
            await nodes[0].fleet.registration.register(iid)
            assert await collect_now(nodes[1], iid) is RunState.SUCCEEDED
            await eventually(lambda: _true(len(hooks.received) == 2), within=15)
            assert await collect_now(nodes[2], iid) is RunState.SUCCEEDED  # still high
            await asyncio.sleep(1.0)  # time for a duplicate, were there one
    assert {name: len(got) for name, got in hooks.received.items()} == {"a": 1, "b": 1}
    body, headers = hooks.received["a"][0]
    assert verify(SECRET, body, headers[SIGNATURE_HEADER])
    assert not verify("another-secret", body, headers[SIGNATURE_HEADER])
    alert = json.loads(body)
    assert alert["kind"] == "fleet.alert"
    assert alert["alert"]["worker_id"] == iid and alert["alert"]["metric"] == "cpu"
    assert alert["alert"]["value"] == 97.0 and alert["alert"]["threshold"] == 90.0
    assert headers["X-Baton-Delivery"] != hooks.received["b"][0][1]["X-Baton-Delivery"]


async def test_an_endpoint_failing_twice_gets_the_alert_on_the_third_attempt(
    cloud: Cloud, tmp_path: Path
) -> None:
    (iid,) = await cloud.launch(1)
    await cloud.feed([iid], cpu=20.0, memory=95.0)
    async with receiver() as hooks:
        hooks.fail["flaky"] = 2
        settings = settings_for(cloud, tmp_path, webhook_urls=[hooks.hook("flaky")])
        async with fleet_node(settings, tmp_path) as running:
            await asyncio.sleep(0.2)
            await running.fleet.registration.register(iid)
            await collect_now(running, iid)
            await eventually(lambda: _true(len(hooks.received["flaky"]) == 1), within=30)
            runs = await running.baton.runs(type="fleet-alert-webhook")
    assert hooks.attempts["flaky"] == 3
    (run,) = runs.items
    assert run.state is RunState.SUCCEEDED and run.attempt == 3
    body, headers = hooks.received["flaky"][0]
    assert SIGNATURE_HEADER not in headers  # no secret configured: unsigned
    assert json.loads(body)["alert"]["metric"] == "memory"


async def _true(value: bool) -> bool:
    return value


pytestmark = pytest.mark.timeout(90)
