"""``baton runs ...``: the execution history."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from baton.cli.context import out_console, print_json, run_async, state_of
from baton.cli.render import run_detail, runs_table

app = typer.Typer(help="Inspect runs.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option(help="Only runs of this schedule id.")] = None,
    type: Annotated[str | None, typer.Option(help="Only this job type.")] = None,
    state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="From a previous page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """List runs, newest first."""
    cli = state_of(ctx)

    async def go() -> Any:
        async with cli.baton() as baton:
            return await baton.runs(
                schedule_id=job, type=type, state=state, cursor=cursor, limit=limit
            )

    page = run_async(go)
    if as_json:
        print_json({"items": page.items, "next_cursor": page.next_cursor})
        return
    out_console.print(runs_table(page.items))
    if page.next_cursor:
        out_console.print(f"more: --cursor {page.next_cursor}")


@app.command("show")
def show(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show one run with its error, if any."""
    cli = state_of(ctx)

    async def go() -> Any:
        async with cli.baton() as baton:
            return await baton.get_run(id)

    run = run_async(go)
    if as_json:
        print_json(run)
    else:
        out_console.print(run_detail(run))
