"""Run the HTTP server and the node of a Baton in one event loop, and stop them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator

import uvicorn
from fastapi import FastAPI

from baton.app import Baton

log = logging.getLogger("baton.web")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (the node and the server stop together),
    telling when its socket listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


async def serve_http(
    baton: Baton,
    app: FastAPI,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    on_started: Callable[[str], None] | None = None,
    handle_signals: bool = True,
) -> None:
    """Serve ``app`` on ``host:port`` while the Baton's node runs; return when both stopped.

    The Baton must be open. SIGTERM or SIGINT stops accepting requests, lets the node
    finish its runs (its shutdown grace), then returns. ``on_started`` gets the base URL
    once the socket listens.
    """
    config = uvicorn.Config(
        app, host=host, port=port, lifespan="off", access_log=False, log_config=None
    )
    server = _Server(config)

    def stop() -> None:
        server.should_exit = True
        baton.stop()

    loop = asyncio.get_running_loop()
    installed = []
    if handle_signals:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop)
                installed.append(sig)
    http = asyncio.create_task(server.serve(), name="baton-http")
    node = asyncio.create_task(baton.serve(handle_signals=False), name="baton-node")
    try:
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait({http, listening}, return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if server.started and on_started is not None:
            on_started(_base_url(server, host, port))
        await asyncio.wait({http, node}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop()
        await asyncio.gather(http, node, return_exceptions=True)
        for sig in installed:
            loop.remove_signal_handler(sig)
    for task in (http, node):
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def _base_url(server: uvicorn.Server, host: str, port: int) -> str:
    for listener in server.servers:
        for sock in listener.sockets:
            port = sock.getsockname()[1]
            break
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"
