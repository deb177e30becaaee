"""The ``baton`` command line: thin commands over the :class:`baton.Baton` facade."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from baton.app import Baton
from baton.cli import breakers, demo, jobs, runs, serve
from baton.cli import fleet as fleet_cli
from baton.cli.context import (
    CliState,
    err_console,
    out_console,
    reporting_errors,
    run_async,
    state_of,
)
from baton.cli.fleet import FleetFlag
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
from baton.fleet import FleetSettings
from baton.model import NodeInfo
from baton.node import WORK_ROLES
from baton.settings import Settings
from baton.store import store_from_url
from baton.store.base import StoreReport

app = typer.Typer(
    name="baton",
    help="A persistent, multi-node job scheduler for asyncio services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(jobs.app, name="jobs")
app.add_typer(runs.app, name="runs")
app.add_typer(breakers.app, name="breakers")
app.add_typer(fleet_cli.app, name="fleet")


@app.callback()
def main_options(
    ctx: typer.Context,
    store: Annotated[
        str | None, typer.Option(help="Store URL (default: $BATON_STORE_URL).")
    ] = None,
    import_: Annotated[
        list[str] | None,
        typer.Option("--import", help="Module with job types (repeatable; $BATON_IMPORTS)."),
    ] = None,
) -> None:
    with reporting_errors():
        settings = Settings()
    if store:
        settings = settings.model_copy(update={"store_url": store})
    ctx.obj = CliState(settings=settings, imports=[*settings.imports, *(import_ or [])])


@app.command()
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
    fleet: FleetFlag = False,
    log_level: LogLevel = "INFO",
) -> None:
    """Run a node (scheduler and worker, no HTTP) until SIGTERM or Ctrl-C."""
    cli = state_of(ctx)
    config = node_config(
        cli.settings,
        roles=roles,
        allowed=WORK_ROLES,
        name=name,
        concurrency=concurrency,
        lease=lease,
        shutdown_grace=shutdown_grace,
        log_level=log_level,
        fire_ahead=fire_ahead,
    )

    with reporting_errors():
        fleet_settings = FleetSettings() if fleet or cli.settings.fleet else None
    run_async(lambda: serve.serve_node(cli, config, tokens=None, fleet=fleet_settings))


app.command()(serve.serve)
app.command()(demo.demo)


@app.command()
def check(ctx: typer.Context) -> None:
    """Validate the store: settings that would lose jobs are refused (exit 1)."""
    cli = state_of(ctx)

    async def go() -> tuple[StoreReport, list[NodeInfo], dict[str, int]]:
        async with Baton(store=store_from_url(cli.settings.store_url)) as baton:
            report = await baton.store.check()
            return report, await baton.nodes(), await baton.unserved()

    report, nodes, unserved = run_async(go)
    table = Table(show_header=False, title="store")
    table.add_column("fact", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in report.facts.items():
        table.add_row(escape(name), escape(value))
    out_console.print(table)
    workers = Table(title="nodes")
    for column in ("node", "roles", "job types"):
        workers.add_column(column, overflow="fold")
    for node in nodes:
        workers.add_row(
            escape(node.name), ", ".join(node.roles), escape(", ".join(node.types) or "-")
        )
    out_console.print(workers)
    for job_type, count in sorted(unserved.items()):
        report.warnings.append(
            f"{count} run(s) of job type {job_type!r} wait: no live worker runs that type "
            "(start one with the job type registered, e.g. --import)"
        )
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")
    for problem in report.problems:
        err_console.print(f"[bold red]problem:[/] {escape(problem)}")
    if report.problems:
        raise typer.Exit(1)
    out_console.print("[green]ok[/]")


def main() -> None:
    """Entry point of the ``baton`` console script."""
    app()
