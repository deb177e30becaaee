"""``baton fleet ...``: the CML fleet on the command line, when ``baton[fleet]`` is
installed. Nothing of the fleet (nor the AWS SDK) is imported until a fleet command runs."""

from __future__ import annotations

from types import ModuleType
from typing import Annotated

import typer

from baton._extras import installed, missing, translating_missing
from baton.cli.context import out_console, print_json, run_async, state_of

app = typer.Typer(help="The CML worker fleet on EC2 (needs baton[fleet]).", no_args_is_help=True)


def load_fleet() -> ModuleType:
    """``baton.fleet``, or the error that names the extra to install."""
    if not installed("fleet"):
        raise missing("fleet")
    with translating_missing(default="fleet"):
        import baton.fleet

    return baton.fleet


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
    from baton.cli.nodes import opened

    cli = state_of(ctx)

    async def go() -> tuple[list[str], list[str]]:
        fleet_module = load_fleet()
        filters = fleet_module.parse_tag_filters(tag or ["Name=cml-*"])
        async with opened(cli, fleet=fleet_module.FleetSettings()) as (_, fleet):
            assert fleet is not None
            result = await fleet.registration.import_instances(region=region, filters=filters)
            return [w.id for w in result.registered], result.already

    registered, already = run_async(go)
    if as_json:
        print_json({"registered": registered, "already": already})
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="import")
    table.add_column("worker")
    table.add_column("result")
    for worker_id in registered:
        table.add_row(escape(worker_id), "[green]registered, monitored[/]")
    for worker_id in already:
        table.add_row(escape(worker_id), "already registered")
    out_console.print(table)
