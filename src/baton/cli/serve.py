"""``baton serve``: the HTTP admin API plus a scheduler and worker node, in one process."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI
from rich.markup import escape

from baton.cli.context import CliState, err_console, reporting_errors, run_async, state_of
from baton.cli.fleet import FleetFlag, opened
from baton.cli.nodes import (
    FIRE_AHEAD,
    LEASE,
    SHUTDOWN_GRACE,
    Concurrency,
    FireAhead,
    Lease,
    LogLevel,
    NodeName,
    ShutdownGrace,
    node_config,
)
from baton.errors import ConfigurationError, InvalidInputError
from baton.fleet import Fleet, FleetSettings
from baton.node import NodeConfig
from baton.settings import Settings
from baton.web import (
    ApiTokens,
    Role,
    create_app,
    default_token_file,
    ensure_admin_token,
    serve_http,
)


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Address to listen on ($BATON_API_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port ($BATON_API_PORT; 0 picks one).")] = None,
    roles: Annotated[str, typer.Option(help="Comma-separated: api,scheduler,worker.")] = (
        "api,scheduler,worker"
    ),
    name: NodeName = None,
    concurrency: Concurrency = None,
    lease: Lease = LEASE,
    shutdown_grace: ShutdownGrace = SHUTDOWN_GRACE,
    fire_ahead: FireAhead = FIRE_AHEAD,
    token_file: Annotated[
        Path | None,
        typer.Option(help="Where the generated admin token is kept ($BATON_API_TOKEN_FILE)."),
    ] = None,
    fleet: FleetFlag = False,
    log_level: LogLevel = "INFO",
) -> None:
    """Serve the admin API and run a node (scheduler and worker) until SIGTERM or Ctrl-C.

    Tokens come from $BATON_API_TOKENS (admin:<token>,viewer:<token>). Without any, an
    admin token is made, kept in a file only you can read, and printed once.
    """
    cli = state_of(ctx)
    config = node_config(
        cli.settings,
        roles=roles,
        name=name,
        concurrency=concurrency,
        lease=lease,
        shutdown_grace=shutdown_grace,
        log_level=log_level,
        fire_ahead=fire_ahead,
    )
    settings = cli.settings
    with reporting_errors():
        if port is not None and not 0 <= port <= 65535:
            raise InvalidInputError("must be 0 to 65535", field="--port")
        tokens = tokens_for(settings, token_file) if "api" in config.roles else None
        fleet_settings = FleetSettings() if fleet or settings.fleet else None
    run_async(
        lambda: serve_node(
            cli,
            config,
            tokens=tokens,
            host=host or settings.api_host,
            port=settings.api_port if port is None else port,
            fleet=fleet_settings,
        )
    )


async def serve_node(
    cli: CliState,
    config: NodeConfig,
    *,
    tokens: ApiTokens | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    fleet: FleetSettings | None = None,
    on_started: Callable[[str], None] | None = None,
    configure_app: Callable[[FastAPI], None] | None = None,
    before_serve: Callable[[Fleet], Awaitable[None]] | None = None,
) -> None:
    """Open the Baton (and the fleet), reconcile, then run the node and the API until
    stopped. Without ``tokens`` no HTTP is served. ``configure_app`` may add routes;
    ``before_serve`` gets the fleet once it is reconciled."""
    async with opened(cli, node=config, fleet=fleet) as (baton, app_fleet):
        app = create_app(baton, tokens=tokens) if tokens is not None else None
        if app is not None and app_fleet is not None:
            app.include_router(app_fleet.router())
        if app is not None and configure_app is not None:
            configure_app(app)
        err_console.print(
            escape(
                f"baton node {config.name} ({', '.join(sorted(config.roles))}) on "
                f"{cli.settings.store_url}, job types: {', '.join(baton.registry.names()) or '-'}"
            )
        )
        if app_fleet is not None:
            started, removed = await app_fleet.monitoring.reconcile()
            err_console.print(
                f"fleet: {len(started)} schedules made or updated, {len(removed)} orphans removed"
            )
            if before_serve is not None:
                await before_serve(app_fleet)
        if app is None:
            await baton.serve()
            return

        def announce(url: str) -> None:
            err_console.print(escape(f"admin API on {url} (docs: {url}/docs)"))
            if on_started is not None:
                on_started(url)

        await serve_http(baton, app, host=host, port=port, on_started=announce)


def tokens_for(settings: Settings, token_file: Path | None) -> ApiTokens:
    """The configured tokens, or the admin token kept in the token file (made if missing)."""
    if settings.api_tokens:
        return ApiTokens.parse(settings.api_tokens)
    path = token_file or settings.api_token_file or default_token_file()
    try:
        token, created = ensure_admin_token(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot keep the admin token in {path}: {exc}") from None
    if created:
        err_console.print(escape(f"admin token (kept in {path}, shown only this once):"))
        print(token, flush=True)
    else:
        err_console.print(escape(f"admin token: in {path}"))
    return ApiTokens.of([(token, Role.ADMIN)])
