"""``baton serve``: the HTTP admin API plus a scheduler and worker node, in one process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from baton.cli.context import err_console, reporting_errors, run_async, state_of
from baton.cli.nodes import LogLevel, node_config
from baton.errors import ConfigurationError
from baton.node import ROLES
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
    name: Annotated[str | None, typer.Option(help="Node name ($BATON_NODE_NAME).")] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Runs at once ($BATON_CONCURRENCY).")
    ] = None,
    lease: Annotated[float, typer.Option(help="Lease length in seconds.")] = 30.0,
    shutdown_grace: Annotated[float, typer.Option(help="Seconds to finish runs on stop.")] = 30.0,
    token_file: Annotated[
        Path | None,
        typer.Option(help="Where the generated admin token is kept ($BATON_API_TOKEN_FILE)."),
    ] = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Serve the admin API and run a node (scheduler and worker) until SIGTERM or Ctrl-C.

    Tokens come from $BATON_API_TOKENS (admin:<token>,viewer:<token>). Without any, an
    admin token is made, kept in a file only you can read, and printed once.
    """
    cli = state_of(ctx)
    chosen = _roles(roles)
    config = node_config(
        cli.settings,
        roles=chosen,
        name=name,
        concurrency=concurrency,
        lease=lease,
        shutdown_grace=shutdown_grace,
        log_level=log_level,
    )
    settings = cli.settings
    with reporting_errors():
        tokens = _tokens(settings, token_file) if "api" in chosen else None

    async def go() -> None:
        baton = cli.baton(node=config)
        app = create_app(baton, tokens=tokens) if tokens is not None else None
        async with baton:
            err_console.print(
                f"baton node {config.name} ({', '.join(sorted(config.roles))}) "
                f"on {settings.store_url}, job types: {', '.join(baton.registry.names()) or '-'}"
            )
            if app is None:
                await baton.serve()
                return
            await serve_http(
                baton,
                app,
                host=host or settings.api_host,
                port=settings.api_port if port is None else port,
                on_started=lambda url: err_console.print(f"admin API on {url} (docs: {url}/docs)"),
            )

    run_async(go)


def _roles(spec: str) -> frozenset[str]:
    chosen = frozenset(r.strip() for r in spec.split(",") if r.strip())
    if not chosen or chosen - ROLES:
        raise typer.BadParameter(
            f"roles must be among {', '.join(sorted(ROLES))}", param_hint="--roles"
        )
    return chosen


def _tokens(settings: Settings, token_file: Path | None) -> ApiTokens:
    if settings.api_tokens:
        return ApiTokens.parse(settings.api_tokens)
    path = token_file or settings.api_token_file or default_token_file()
    try:
        token, created = ensure_admin_token(path)
    except OSError as exc:
        raise ConfigurationError(f"cannot keep the admin token in {path}: {exc}") from None
    if created:
        err_console.print(f"admin token (kept in {path}, shown only this once):")
        print(token, flush=True)
    else:
        err_console.print(f"admin token: in {path}")
    return ApiTokens.of([(token, Role.ADMIN)])
