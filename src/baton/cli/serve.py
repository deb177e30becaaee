"""``baton serve``: the HTTP admin API plus a scheduler and worker node, in one process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from baton.cli.context import err_console, reporting_errors, run_async, state_of
from baton.cli.logformat import configure_logging
from baton.cli.nodes import (
    FIRE_AHEAD,
    LEASE,
    SHUTDOWN_GRACE,
    Concurrency,
    Container,
    FireAhead,
    FleetFlag,
    Lease,
    LogFormat,
    LogLevel,
    NodeName,
    ShutdownGrace,
    container_factory,
    fleet_settings_if,
    node_config,
    run_node,
)
from baton.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from baton.settings import Settings
    from baton.web import ApiTokens


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
    container: Container = None,
    fleet: FleetFlag = False,
    log_level: LogLevel = "INFO",
    log_format: LogFormat = "text",
) -> None:
    """Serve the admin API and run a node (scheduler and worker) until SIGTERM or Ctrl-C.

    Tokens come from $BATON_API_TOKENS (admin:<token>,viewer:<token>). Without any, an
    admin token is made, kept in a file only you can read, and printed once.
    """
    cli = state_of(ctx)
    with reporting_errors():
        configure_logging(log_level, log_format)
    config = node_config(
        cli.settings,
        roles=roles,
        name=name,
        concurrency=concurrency,
        lease=lease,
        shutdown_grace=shutdown_grace,
        fire_ahead=fire_ahead,
    )
    settings = cli.settings
    with reporting_errors():
        if port is not None and not 0 <= port <= 65535:
            raise InvalidInputError("must be 0 to 65535", field="--port")
        tokens = tokens_for(settings, token_file) if "api" in config.roles else None
        fleet_settings = fleet_settings_if(fleet)
        factory = container_factory(container or settings.container, fleet=fleet)
    run_async(
        lambda: run_node(
            cli,
            config,
            tokens=tokens,
            host=host or settings.api_host,
            port=settings.api_port if port is None else port,
            fleet=fleet_settings,
            container=factory,
        )
    )


def tokens_for(settings: Settings, token_file: Path | None) -> ApiTokens:
    """The configured tokens, or the admin token kept in the token file (made if missing)."""
    from baton.web import ApiTokens, Role, default_token_file, ensure_admin_token

    if settings.api_tokens:
        return ApiTokens.parse(settings.api_tokens)
    path = token_file or settings.api_token_file or default_token_file()
    try:
        token, created = ensure_admin_token(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot keep the admin token in {path}: {exc}") from None
    if created:
        err_console.print(f"admin token (kept in {path}, shown only this once):", markup=False)
        print(token, flush=True)
    else:
        err_console.print(f"admin token: in {path}", markup=False)
    return ApiTokens.of([(token, Role.ADMIN)])
