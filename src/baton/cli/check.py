"""``baton check``: validate a store before trusting jobs to it."""

from __future__ import annotations

import typer

from baton.cli.context import (
    describe_store,
    err_console,
    out_console,
    require_existing,
    run_async,
    state_of,
)


def check(ctx: typer.Context) -> None:
    """Validate the store: settings that would lose jobs are refused (exit 1)."""
    from rich.markup import escape
    from rich.table import Table

    from baton.app import Baton
    from baton.model import NodeInfo
    from baton.store import store_from_url
    from baton.store.base import StoreReport

    cli = state_of(ctx)

    async def go() -> tuple[StoreReport, list[NodeInfo], dict[str, int]]:
        require_existing(cli.settings.store_url)
        cli.announce_store()
        async with Baton(store=store_from_url(cli.settings.store_url)) as baton:
            report = await baton.store.check()
            return report, await baton.nodes(), await baton.unserved()

    report, nodes, unserved = run_async(go)
    table = Table(show_header=False, title="store")
    table.add_column("fact", style="bold")
    table.add_column("value", overflow="fold")
    table.add_row("store", escape(describe_store(cli.settings.store_url)))
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
        err_console.print("[yellow]warning:[/] ", end="")
        err_console.print(warning, markup=False)
    for problem in report.problems:
        err_console.print("[bold red]problem:[/] ", end="")
        err_console.print(problem, markup=False)
    if report.problems:
        raise typer.Exit(1)
    out_console.print("[green]ok[/]")
