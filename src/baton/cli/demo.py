"""``baton demo``: ``serve`` with the fleet monitor over a simulated AWS (a moto server)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from baton._extras import installed, missing
from baton.cli.context import CliState, reporting_errors, run_async, state_of
from baton.cli.logformat import configure_logging
from baton.cli.nodes import node_config
from baton.errors import InvalidInputError

if TYPE_CHECKING:
    from baton.web import ApiTokens


def demo(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port of the API (0 picks a free one).")] = 8000,
    host: Annotated[str, typer.Option(help="Address of the API.")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(min=1, max=500, help="Simulated CML workers.")] = 12,
    poll: Annotated[float, typer.Option(min=1, help="Seconds between two polls.")] = 10.0,
    terminate_after: Annotated[
        float, typer.Option(help="Seconds until one instance is terminated.")
    ] = 60.0,
    duration: Annotated[
        float | None, typer.Option(help="Stop by itself after this many seconds.")
    ] = None,
    data_dir: Annotated[
        Path, typer.Option(help="Where the demo keeps its databases (emptied at start).")
    ] = Path("baton-demo"),
) -> None:
    """Serve the API with the fleet monitor over a simulated fleet of CML workers on EC2.

    A moto server on a free loopback port stands in for AWS; no AWS account is used.
    """
    import logging
    import os
    import secrets
    import shutil

    with reporting_errors():
        if not (installed("demo") and installed("fleet")):
            raise missing("demo")  # make demo installs it
        from moto.server import ThreadedMotoServer

        from baton.cli import demo_run
        from baton.fleet import FleetSettings
    with reporting_errors():
        _check_numbers(port=port, poll=poll, terminate_after=terminate_after, duration=duration)
    cli = state_of(ctx)
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    store = f"sqlite:///{data_dir.resolve()}/baton.db"
    demo_cli = CliState(
        settings=cli.settings.model_copy(update={"store_url": store}), imports=cli.imports
    )
    config = node_config(
        demo_cli.settings,
        roles=frozenset({"api", "scheduler", "worker"}),
        name="demo-node",
        concurrency=50,
        lease=30.0,
        shutdown_grace=5.0,
    )
    configure_logging("WARNING", "text")
    logging.getLogger("baton.fleet").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # Only this process talks to the simulated endpoint; it needs some credentials.
    os.environ["AWS_ACCESS_KEY_ID"] = "demo"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "demo"
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    api_port = port or _free_port()
    base = f"http://{host}:{api_port}"
    moto_port = _free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{moto_port}"
    with reporting_errors():
        tokens, token = _tokens(demo_cli.settings.api_tokens)
    fleet_settings = FleetSettings(
        aws_endpoint_url=endpoint,
        region=demo_run.REGION,
        poll_interval=poll,
        poll_jitter=min(1.0, poll / 10),
        webhook_urls=[f"{base}/demo/webhook"],  # type: ignore[list-item]
        webhook_secret=secrets.token_hex(16),
    )
    try:
        run_async(
            lambda: demo_run.run_demo(
                demo_cli,
                config,
                tokens=tokens,
                token=token,
                host=host,
                port=api_port,
                settings=fleet_settings,
                count=workers,
                terminate_after=terminate_after,
                duration=duration,
            )
        )
    finally:
        moto.stop()


def _tokens(configured: str | None) -> tuple[ApiTokens, str]:
    """The accepted tokens and the one to print: the first admin token of
    ``BATON_API_TOKENS`` (never the whole list), or a new admin token."""
    import secrets

    from baton.web import ApiTokens, Role

    if not configured:
        made = secrets.token_urlsafe(24)
        return ApiTokens.of([(made, Role.ADMIN)]), made
    tokens = ApiTokens.parse(configured)
    admins = [token for token, role in tokens.entries if role is Role.ADMIN]
    return tokens, (admins or [tokens.entries[0][0]])[0].decode()


def _check_numbers(
    *, port: int, poll: float, terminate_after: float, duration: float | None
) -> None:
    if not 0 <= port <= 65535:
        raise InvalidInputError("must be 0 to 65535", field="--port")
    if not (math.isfinite(poll) and 1 <= poll <= 86_400):
        raise InvalidInputError("must be 1 to 86400 seconds", field="--poll")
    if not (math.isfinite(terminate_after) and 0 <= terminate_after <= 86_400):
        raise InvalidInputError("must be 0 to 86400 seconds", field="--terminate-after")
    if duration is not None and not (math.isfinite(duration) and 0 < duration <= 604_800):
        raise InvalidInputError(
            "must be more than 0 and at most 604800 seconds", field="--duration"
        )


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
