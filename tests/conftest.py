"""Shared fixtures: a controllable clock and every store, fresh for each test."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from baton.store.base import Store
from baton.store.memory import MemoryStore
from baton.store.redis import RedisStore
from baton.store.sqlite import SQLiteStore

STORE_KINDS = ["memory", "sqlite", "redis"]


class Clock:
    """A clock the test moves by hand; stores read it as their own clock."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_store(
    kind: str, tmp_path: Path, clock: Callable[[], datetime], redis_url: str = ""
) -> Store:
    if kind == "memory":
        return MemoryStore(clock=clock)
    if kind == "redis":
        return RedisStore(redis_url, clock=clock)
    return SQLiteStore(tmp_path / "baton.db", clock=clock)


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(
    store_kind: str, tmp_path: Path, clock: Clock, request: pytest.FixtureRequest
) -> AsyncIterator[Store]:
    url = request.getfixturevalue("redis_url") if store_kind == "redis" else ""
    async with make_store(store_kind, tmp_path, clock, url) as opened:
        yield opened


# -- a real redis-server, started once per test session on a free loopback port ----------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server process of the test session's own, with AOF on."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
                "--databases",
                "64",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # a clean shutdown writes the AOF
            self.proc.wait(timeout=20)
        self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A key prefix of its own for each test: cheap isolation on one server."""
    return f"{redis_server.url}?prefix=t{uuid.uuid4().hex[:12]}:"
