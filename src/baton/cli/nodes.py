"""``baton worker`` and what it shares with ``serve`` and ``demo``: logging, the node's
settings, the application's container and running a node (with the API when asked)."""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import math
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from baton.cli.context import CliState, err_console, reporting_errors, run_async, state_of
from baton.cli.logformat import configure_logging
from baton.errors import ConfigurationError, InvalidInputError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from baton.app import Baton
    from baton.fleet import Fleet, FleetSettings
    from baton.node import NodeConfig
    from baton.settings import Settings
    from baton.web import ApiTokens

# The node flags of `worker` and `serve`; their defaults are NodeConfig's (a test holds
# them equal, so that this module need not import the node to show --help).
LEASE = 30.0
SHUTDOWN_GRACE = 30.0
FIRE_AHEAD = 0.1

NodeName = Annotated[str | None, typer.Option(help="Node name ($BATON_NODE_NAME).")]
Concurrency = Annotated[int | None, typer.Option(help="Runs at once ($BATON_CONCURRENCY).")]
Lease = Annotated[float, typer.Option(help="Lease length in seconds.")]
ShutdownGrace = Annotated[float, typer.Option(help="Seconds to finish runs on stop.")]
FireAhead = Annotated[
    float,
    typer.Option(
        help="Seconds before a run is due that the node claims it (it starts on time); "
        "hides store stalls shorter than this."
    ),
]
LogLevel = Annotated[str, typer.Option(help="Logging level.")]
LogFormat = Annotated[
    str, typer.Option(help="text, or json: one JSON object per line for log shippers.")
]
Container = Annotated[
    str | None,
    typer.Option(
        help="module:function returning the dishka container that jobs' dependencies "
        "come from ($BATON_CONTAINER)."
    ),
]
FleetFlag = Annotated[
    bool,
    typer.Option(
        "--fleet/--no-fleet",
        envvar="BATON_FLEET",
        help="Run the CML fleet monitor too ($BATON_FLEET; needs baton[fleet]).",
    ),
]


MAX_CONCURRENCY = 10_000
MAX_NODE_SECONDS = 86_400.0


def _check_numbers(
    *, concurrency: int | None, lease: float, shutdown_grace: float, fire_ahead: float
) -> None:
    """Refuse node flags out of range before they become durations (``inf`` or ``1e300``
    would overflow a timedelta)."""
    if concurrency is not None and not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidInputError(f"must be 1 to {MAX_CONCURRENCY}", field="--concurrency")
    for field, value in (
        ("--lease", lease),
        ("--shutdown-grace", shutdown_grace),
        ("--fire-ahead", fire_ahead),
    ):
        if not (math.isfinite(value) and 0 <= value <= MAX_NODE_SECONDS):
            raise InvalidInputError(f"must be 0 to {MAX_NODE_SECONDS:g} seconds", field=field)


def worker(
    ctx: typer.Context,
    name: NodeName = None,
    concurrency: Concurrency = None,
    roles: Annotated[str, typer.Option(help="Comma-separated: scheduler,worker.")] = (
        "scheduler,worker"
    ),
    lease: Lease = LEASE,
    shutdown_grace: ShutdownGrace = SHUTDOWN_GRACE,
    fire_ahead: FireAhead = FIRE_AHEAD,
    container: Container = None,
    fleet: FleetFlag = False,
    log_level: LogLevel = "INFO",
    log_format: LogFormat = "text",
) -> None:
    """Run a node (scheduler and worker, no HTTP) until SIGTERM or Ctrl-C."""
    from baton.node import WORK_ROLES

    cli = state_of(ctx)
    with reporting_errors():
        configure_logging(log_level, log_format)
    config = node_config(
        cli.settings,
        roles=roles,
        allowed=WORK_ROLES,
        name=name,
        concurrency=concurrency,
        lease=lease,
        shutdown_grace=shutdown_grace,
        fire_ahead=fire_ahead,
    )
    with reporting_errors():
        fleet_settings = fleet_settings_if(fleet)
        factory = container_factory(container or cli.settings.container, fleet=fleet)
    run_async(lambda: run_node(cli, config, tokens=None, fleet=fleet_settings, container=factory))


def node_config(
    settings: Settings,
    *,
    roles: str | frozenset[str],
    allowed: frozenset[str] | None = None,
    name: str | None,
    concurrency: int | None,
    lease: float,
    shutdown_grace: float,
    fire_ahead: float = FIRE_AHEAD,
) -> NodeConfig:
    """The node of a process that is only a node (GC tuned).

    ``roles`` may be the comma-separated text of ``--roles``, checked against ``allowed``.
    """
    from baton.node import ROLES, NodeConfig

    allowed = ROLES if allowed is None else allowed
    if isinstance(roles, str):
        roles = frozenset(r.strip() for r in roles.split(",") if r.strip())
    if not roles or roles - allowed:
        raise typer.BadParameter(
            f"roles must be among {', '.join(sorted(allowed))}", param_hint="--roles"
        )
    with reporting_errors():
        _check_numbers(
            concurrency=concurrency,
            lease=lease,
            shutdown_grace=shutdown_grace,
            fire_ahead=fire_ahead,
        )
    kwargs: dict[str, Any] = {
        "tune_gc": True,
        "roles": roles,
        "concurrency": concurrency or settings.concurrency,
        "lease": timedelta(seconds=lease),
        "fire_ahead": timedelta(seconds=fire_ahead),
        "shutdown_grace": timedelta(seconds=shutdown_grace),
    }
    node_name = name or settings.node_name
    if node_name:
        kwargs["name"] = node_name
    with reporting_errors():
        try:
            return NodeConfig(**kwargs)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None


def fleet_settings_if(wanted: bool) -> FleetSettings | None:
    """The fleet's settings when the fleet is wanted; an error naming the extra when it
    is not installed."""
    if not wanted:
        return None
    from baton.cli.fleet import load_fleet

    return load_fleet().FleetSettings()


ContainerFactory = Callable[[], Any]


def container_factory(spec: str | None, *, fleet: bool = False) -> ContainerFactory | None:
    """The function ``module:function`` names, which returns the application's dishka
    container (it may be async). Imported now, so that a typo fails before the node
    starts; called in the node's event loop."""
    if not spec:
        return None
    if fleet:
        raise ConfigurationError("--container and --fleet do not go together (the fleet has one)")
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigurationError(f"--container: {spec!r} is not module:function")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(f"--container: cannot import {module_name!r} ({exc})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigurationError(f"--container: {module_name} has no function {attr!r}")
    return factory


async def _made(factory: ContainerFactory) -> Any:
    container = factory()
    if inspect.isawaitable(container):
        container = await container
    if not callable(container):
        raise ConfigurationError(
            f"--container: {factory.__qualname__}() returned {type(container).__name__}, "
            "not a dishka AsyncContainer (make_async_container(...))"
        )
    return container


@contextlib.asynccontextmanager
async def opened(
    cli: CliState,
    *,
    node: NodeConfig | None = None,
    fleet: FleetSettings | None = None,
    container: ContainerFactory | None = None,
    create: bool = False,
) -> AsyncIterator[tuple[Baton, Fleet | None]]:
    """The configured Baton, open, with the fleet or the application's container wired
    in when given. The container is closed after the Baton."""
    if fleet is not None:
        from baton.cli.fleet import load_fleet

        fleet_module = load_fleet()
        app_fleet = fleet_module.Fleet(fleet, store_url=cli.settings.store_url)
        baton = cli.baton(
            node=node, jobs=fleet_module.FLEET_JOBS, container=app_fleet.container, create=True
        )
        app_fleet.attach(baton)
        async with app_fleet, baton:
            yield baton, app_fleet
        return
    made = await _made(container) if container is not None else None
    try:
        async with cli.baton(node=node, container=made, create=create) as baton:
            yield baton, None
    finally:
        if made is not None and hasattr(made, "close"):
            await made.close()


async def run_node(
    cli: CliState,
    config: NodeConfig,
    *,
    tokens: ApiTokens | None,
    host: str = "127.0.0.1",
    port: int = 8000,
    fleet: FleetSettings | None = None,
    container: ContainerFactory | None = None,
    on_started: Callable[[str], None] | None = None,
    configure_app: Callable[[FastAPI], None] | None = None,
    before_serve: Callable[[Fleet], Awaitable[None]] | None = None,
) -> None:
    """Open the Baton (and the fleet), reconcile, then run the node and the API until
    stopped. Without ``tokens`` no HTTP is served (and the web stack is not imported).
    ``configure_app`` may add routes; ``before_serve`` gets the fleet once reconciled."""
    async with opened(cli, node=config, fleet=fleet, container=container, create=True) as (
        baton,
        app_fleet,
    ):
        from baton.node import logs

        baton.add_listener("breaker.*", logs.breaker_changed)
        app = None
        if tokens is not None:
            from baton.web import create_app

            app = create_app(baton, tokens=tokens)
            if app_fleet is not None:
                app.include_router(app_fleet.router())
            if configure_app is not None:
                configure_app(app)
        _announce(cli, config, baton)
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
        from baton.web import serve_http

        def announce(url: str) -> None:
            err_console.print(f"admin API on {url} (docs: {url}/docs)", markup=False)
            if on_started is not None:
                on_started(url)

        await serve_http(baton, app, host=host, port=port, on_started=announce)


def _announce(cli: CliState, config: NodeConfig, baton: Baton) -> None:
    from baton.cli.context import describe_store

    err_console.print(
        f"baton node {config.name} ({', '.join(sorted(config.roles))}) "
        f"on {describe_store(cli.settings.store_url)}, "
        f"job types: {', '.join(baton.registry.names()) or '-'}",
        markup=False,
    )
    logging.getLogger("baton.node").debug("node config: %s", config)
