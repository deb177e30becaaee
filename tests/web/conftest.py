"""A real admin API: uvicorn on a free loopback port in this event loop, over a real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton import Baton, NodeConfig
from baton.web import ApiTokens, Role, create_app, serve_http
from tests.jobs_for_tests import ALL_JOBS, Recorder, container_for

ADMIN = "admin-token-0123456789"
VIEWER = "viewer-token-0123456789"
NODE = NodeConfig(
    name="api-node",
    roles=frozenset({"api", "scheduler", "worker"}),
    lease=timedelta(seconds=2),
    shutdown_grace=timedelta(seconds=1),
    max_idle=timedelta(seconds=0.5),
    heartbeat_every=timedelta(seconds=0.5),
    event_poll=timedelta(milliseconds=50),
)


@dataclass
class Api:
    url: str
    baton: Baton
    recorder: Recorder

    def client(self, token: str | None = ADMIN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10)


async def start_api(
    store_url: str, recorder: Recorder, node: NodeConfig = NODE
) -> AsyncIterator[Api]:
    baton = Baton(store=store_url, jobs=ALL_JOBS, container=container_for(recorder), node=node)
    tokens = ApiTokens.of([(ADMIN, Role.ADMIN), (VIEWER, Role.VIEWER)])
    app = create_app(baton, tokens=tokens, event_poll=0.05)
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with baton:
        server = asyncio.create_task(
            serve_http(baton, app, port=0, on_started=started.set_result, handle_signals=False)
        )
        url = await asyncio.wait_for(started, 10)
        try:
            yield Api(url=url, baton=baton, recorder=recorder)
        finally:
            baton.stop()
            await server


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for running in start_api(f"sqlite:///{tmp_path}/baton.db", Recorder()):
        yield running


@pytest.fixture
async def admin(api: Api) -> AsyncIterator[httpx.AsyncClient]:
    async with api.client() as client:
        yield client


def schedule(sid: str = "w:1", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": sid,
        "type": "record",
        "payload": {"label": sid},
        "trigger": {"interval": {"seconds": 3600}},
    }
    return {**body, **over}
