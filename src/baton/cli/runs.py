"""``baton runs ...``: the execution history."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from baton.cli.context import (
    JsonFlag,
    ShowSecretsFlag,
    out_console,
    print_json,
    print_page,
    with_baton,
)

if TYPE_CHECKING:
    from baton.app import Baton
    from baton.model import Page, Run

app = typer.Typer(help="Inspect runs.", no_args_is_help=True)
RunId = Annotated[str, typer.Argument(help="Run id.")]


@app.command("list")
def list_(
    ctx: typer.Context,
    job: Annotated[str | None, typer.Option(help="Only runs of this schedule id.")] = None,
    type: Annotated[str | None, typer.Option(help="Only this job type.")] = None,
    state: Annotated[
        str | None, typer.Option(help="Only this state (e.g. waiting, skipped, failed).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1 to 1000).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="From a previous page.")] = None,
    as_json: JsonFlag = False,
    show_secrets: ShowSecretsFlag = False,
) -> None:
    """List runs, newest first."""
    from baton.cli.render import redacted_runs, redactor, runs_table

    async def act(baton: Baton) -> Page[Run]:
        page = await baton.runs(schedule_id=job, type=type, state=state, cursor=cursor, limit=limit)
        return redacted_runs(page, redactor(baton, show_secrets))

    print_page(with_baton(ctx, act), runs_table, as_json)


@app.command("show")
def show(
    ctx: typer.Context,
    id: RunId,
    as_json: JsonFlag = False,
    show_secrets: ShowSecretsFlag = False,
) -> None:
    """Show one run with its error, if any, and the runs it waits for with their states."""
    from baton.cli.render import redactor, run_detail

    async def fetch(baton: Baton) -> tuple[Run, dict[str, Run | None]]:
        run = await baton.get_run(id)
        return redactor(baton, show_secrets).run(run), await baton.parents(run)

    run, parents = with_baton(ctx, fetch)
    if as_json:
        states = {rid: p.state.value if p else None for rid, p in parents.items()}
        print_json({**run.model_dump(mode="json"), **({"parents": states} if parents else {})})
    else:
        out_console.print(run_detail(run, parents))


@app.command("retry")
def retry(
    ctx: typer.Context,
    id: RunId,
    as_json: JsonFlag = False,
    show_secrets: ShowSecretsFlag = False,
) -> None:
    """Give a failed, dead or cancelled run one more attempt (same id, attempt + 1)."""
    _act_on_run(ctx, lambda baton: baton.retry_run(id), as_json, show_secrets)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    id: RunId,
    as_json: JsonFlag = False,
    show_secrets: ShowSecretsFlag = False,
) -> None:
    """Cancel a queued run, or ask the node running it to stop it (exit 1 if it has
    already finished)."""
    _act_on_run(ctx, lambda baton: baton.cancel_run(id), as_json, show_secrets)


def _act_on_run(
    ctx: typer.Context,
    action: Callable[[Baton], Awaitable[Run]],
    as_json: bool,
    show_secrets: bool,
) -> None:
    from baton.cli.render import redactor, run_detail

    async def act(baton: Baton) -> Run:
        return redactor(baton, show_secrets).run(await action(baton))

    run = with_baton(ctx, act)
    if as_json:
        print_json(run)
    else:
        out_console.print(run_detail(run))
