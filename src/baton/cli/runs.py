"""``baton runs ...``: the execution history."""

from __future__ import annotations

from typing import Annotated

import typer

from baton.cli.context import JsonFlag, out_console, print_json, print_page, with_baton
from baton.cli.render import run_detail, runs_table
from baton.model import Run

app = typer.Typer(help="Inspect runs.", no_args_is_help=True)
RunId = Annotated[str, typer.Argument(help="Run id.")]


@app.command("list")
def list_(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option(help="Only runs of this schedule id.")] = None,
    type: Annotated[str | None, typer.Option(help="Only this job type.")] = None,
    state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="From a previous page.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List runs, newest first."""
    page = with_baton(
        ctx,
        lambda baton: baton.runs(
            schedule_id=job, type=type, state=state, cursor=cursor, limit=limit
        ),
    )
    print_page(page, runs_table, as_json)


@app.command("show")
def show(
    ctx: typer.Context,
    id: RunId,
    as_json: JsonFlag = False,
) -> None:
    """Show one run with its error, if any."""
    _print_run(with_baton(ctx, lambda baton: baton.get_run(id)), as_json)


@app.command("retry")
def retry(
    ctx: typer.Context,
    id: RunId,
    as_json: JsonFlag = False,
) -> None:
    """Give a failed, dead or cancelled run one more attempt (same id, attempt + 1)."""
    _print_run(with_baton(ctx, lambda baton: baton.retry_run(id)), as_json)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    id: RunId,
    as_json: JsonFlag = False,
) -> None:
    """Cancel a queued run, or ask the node running it to stop it."""
    _print_run(with_baton(ctx, lambda baton: baton.cancel_run(id)), as_json)


def _print_run(run: Run, as_json: bool) -> None:
    if as_json:
        print_json(run)
    else:
        out_console.print(run_detail(run))
