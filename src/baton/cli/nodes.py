"""What ``baton worker`` and ``baton serve`` share: logging and the node's settings."""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Annotated, Any

import typer

from baton.cli.context import reporting_errors
from baton.errors import InvalidInputError
from baton.node import ROLES, NodeConfig
from baton.settings import Settings

# The node flags of `worker` and `serve`; their defaults are NodeConfig's.
_DEFAULTS = NodeConfig(name="defaults")
LEASE = _DEFAULTS.lease.total_seconds()
SHUTDOWN_GRACE = _DEFAULTS.shutdown_grace.total_seconds()
FIRE_AHEAD = _DEFAULTS.fire_ahead.total_seconds()

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


MAX_CONCURRENCY = 10_000
MAX_NODE_SECONDS = 86_400.0
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


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


def node_config(
    settings: Settings,
    *,
    roles: str | frozenset[str],
    allowed: frozenset[str] = ROLES,
    name: str | None,
    concurrency: int | None,
    lease: float,
    shutdown_grace: float,
    log_level: str,
    fire_ahead: float = FIRE_AHEAD,
) -> NodeConfig:
    """Configure logging and the node of a process that is only a node (GC tuned).

    ``roles`` may be the comma-separated text of ``--roles``, checked against ``allowed``.
    """
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
        if log_level.upper() not in _LEVELS:
            raise InvalidInputError(f"must be one of {', '.join(_LEVELS)}", field="--log-level")
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
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
