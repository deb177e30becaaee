"""A fleet running on a real Baton node over SQLite files, pointed at the moto server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from baton import Baton, NodeConfig
from baton.fleet import FLEET_JOBS, Fleet, FleetSettings
from tests.fleet.conftest import REGION, Cloud

NODE = NodeConfig(
    lease=timedelta(seconds=5),
    shutdown_grace=timedelta(seconds=2),
    max_idle=timedelta(seconds=0.5),
    event_poll=timedelta(milliseconds=50),
    concurrency=50,
)


@dataclass
class Running:
    fleet: Fleet
    baton: Baton


def settings_for(cloud: Cloud, tmp_path: Path, **over: Any) -> FleetSettings:
    values: dict[str, Any] = {
        "aws_endpoint_url": cloud.endpoint,
        "region": REGION,
        "db_url": f"sqlite+aiosqlite:///{tmp_path}/fleet.db",
        "poll_interval": 300,
        **over,
    }
    return FleetSettings(**values)


@contextlib.asynccontextmanager
async def fleet_node(
    settings: FleetSettings,
    tmp_path: Path,
    *,
    name: str = "node-1",
    roles: frozenset[str] = frozenset({"scheduler", "worker"}),
) -> AsyncIterator[Running]:
    store = f"sqlite:///{tmp_path}/baton.db"
    fleet = Fleet(settings, store_url=store)
    baton = Baton(
        store=store,
        jobs=FLEET_JOBS,
        container=fleet.container,
        node=NodeConfig(**{**NODE.__dict__, "name": name}),
        roles=roles,
    )
    fleet.attach(baton)
    async with fleet, baton:
        yield Running(fleet=fleet, baton=baton)
