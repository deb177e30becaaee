"""The fleet on the command line: ``--fleet`` for ``serve``/``worker``, ``fleet import``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from baton.app import Baton
from baton.cli.context import (
    CliState,
    out_console,
    print_json,
    reporting_errors,
    run_async,
    state_of,
)
from baton.fleet import FLEET_JOBS, Fleet, FleetSettings, parse_tag_filters
from baton.node import NodeConfig

app = typer.Typer(help="The CML worker fleet on EC2.", no_args_is_help=True)

FleetFlag = Annotated[
    bool,
    typer.Option("--fleet/--no-fleet", help="Run the CML fleet monitor too ($BATON_FLEET)."),
]


@contextlib.asynccontextmanager
async def opened(
    cli: CliState, *, node: NodeConfig | None = None, fleet: FleetSettings | None = None
) -> AsyncIterator[tuple[Baton, Fleet | None]]:
    """The configured Baton, open, with the fleet wired in when ``fleet`` is given."""
    if fleet is None:
        async with cli.baton(node=node) as baton:
            yield baton, None
        return
    app_fleet = Fleet(fleet, store_url=cli.settings.store_url)
    baton = cli.baton(node=node, jobs=FLEET_JOBS, container=app_fleet.container)
    app_fleet.attach(baton)
    async with app_fleet, baton:
        yield baton, app_fleet


@app.command("import")
def import_(
    ctx: typer.Context,
    region: Annotated[str | None, typer.Option(help="AWS region (default: AWS_REGION).")] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option(help="KEY=VALUE[,VALUE] tag filter, * matches anything (repeatable)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
) -> None:
    """Register every instance matching the tags (not terminated) and monitor it."""
    cli = state_of(ctx)
    with reporting_errors():
        filters = parse_tag_filters(tag or ["Name=cml-*"])

    async def go() -> tuple[list[str], list[str]]:
        async with opened(cli, fleet=FleetSettings()) as (_, fleet):
            assert fleet is not None
            result = await fleet.registration.import_instances(region=region, filters=filters)
            return [w.id for w in result.registered], result.already

    registered, already = run_async(go)
    if as_json:
        print_json({"registered": registered, "already": already})
        return
    table = Table(title="import")
    table.add_column("worker")
    table.add_column("result")
    for worker_id in registered:
        table.add_row(escape(worker_id), "[green]registered, monitored[/]")
    for worker_id in already:
        table.add_row(escape(worker_id), "already registered")
    out_console.print(table)
