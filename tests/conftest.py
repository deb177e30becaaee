"""Shared fixtures: a controllable clock and every store, fresh for each test; and the
guard that no process the suite starts outlives its test or the session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
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
from tests.processes import end, kill, left_behind, mark_session, outlives_tests

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
    """A redis-server process of the test session's own, with AOF on.

    A context manager: the process is ended on leaving the block, however it is left.
    ``lasting`` marks a server that outlives the test that starts it (the session's).
    """

    def __init__(self, workdir: Path, *, lasting: bool = False) -> None:
        self.workdir = workdir
        self.port = _free_port()
        self.lasting = lasting
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

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
        if self.lasting:
            outlives_tests(self.proc)
        try:
            self._wait_until_it_answers(deadline=time.monotonic() + 60)
        except BaseException:
            self.stop()
            raise

    def _wait_until_it_answers(self, deadline: float) -> None:
        assert self.proc is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within 60 s")

    def stop(self) -> None:
        """SIGTERM (a clean shutdown writes the AOF), SIGKILL if it takes over 30 s."""
        if self.proc is not None:
            end(self.proc, grace=30)
        self.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis"), lasting=True) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A key prefix of its own for each test: cheap isolation on one server."""
    return f"{redis_server.url}?prefix=t{uuid.uuid4().hex[:12]}:"


# -- no process outlives the test that started it, nor the session ------------------------


def pytest_configure(config: pytest.Config) -> None:
    mark_session(f"{os.getpid()}-{uuid.uuid4().hex[:12]}")


@pytest.fixture(autouse=True)
def _no_process_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test (its fixtures torn down): fail it if a process it started still
    runs, and kill that process."""
    yield
    leftovers = left_behind(lasting_too=False)
    if leftovers:
        kill(leftovers)
        pytest.fail(
            f"{request.node.nodeid} left {len(leftovers)} process(es) running (now killed):\n"
            + "\n".join(f"  {leftover}" for leftover in leftovers),
            pytrace=False,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the last test and the session's fixtures: any process still running is a
    leak. It is killed, named, and the run fails."""
    leftovers = left_behind(lasting_too=True)
    if not leftovers:
        return
    kill(leftovers)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{len(leftovers)} process(es) started by the suite outlived it (now killed):"]
    lines += [f"  {leftover}" for leftover in leftovers]
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("!", "processes left behind", red=True, bold=True)
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("\n".join(lines), file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
