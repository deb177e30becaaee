"""What ``baton worker`` and ``baton serve`` share: logging and the node's settings."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

import typer

from baton.cli.context import reporting_errors
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
