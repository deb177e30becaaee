"""``baton breakers ...``: the circuit breakers every node shares."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from baton.cli.context import JsonFlag, out_console, print_json, with_baton

if TYPE_CHECKING:
    from rich.table import Table

    from baton.model import Breaker  # the command imports the model when it runs

app = typer.Typer(help="Inspect and reset circuit breakers.", no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List every breaker: closed, open (runs that meet it wait) or half_open."""
    found = with_baton(ctx, lambda baton: baton.breakers())
    if as_json:
        print_json(found)
        return
    out_console.print(breakers_table(found))


@app.command("reset")
def reset(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The breaker's key.")],
    as_json: JsonFlag = False,
) -> None:
    """Close a breaker now: the runs waiting on it go at their next try."""
    found = with_baton(ctx, lambda baton: baton.reset_breaker(key, reason="reset with the CLI"))
    if as_json:
        print_json(found)
        return
    from rich.markup import escape

    out_console.print(f"breaker {escape(found.key)} is {found.state.value}")


def breakers_table(breakers: list[Breaker]) -> Table:
    from rich.markup import escape  # only a command that prints a table needs Rich's
    from rich.table import Table

    table = Table(title="breakers")
    for column in ("key", "state", "failures", "opened", "probe at", "probe"):
        table.add_column(column, overflow="fold")
    for b in breakers:
        table.add_row(
            escape(b.key),
            b.state.value,
            str(len(b.failures)),
            _time(b.opened_at),
            _time(b.probe_at),
            escape(b.probe or "-"),
        )
    return table


def _time(moment: datetime | None) -> str:
    return moment.strftime("%H:%M:%S") if moment else "-"
