"""The ``baton`` command line: thin commands over the :class:`baton.Baton` facade.

Only Typer is imported here. Each command imports what it uses when it runs, so
``baton --help`` costs little more than Typer and a store command little more than its
store's driver; the fleet's commands load the AWS SDK only when called.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from baton._extras import installed
from baton.cli import breakers, check, demo, fleet, jobs, nodes, runs, serve
from baton.cli.context import CliState, reporting_errors

#: Options of ``baton`` itself, which go before the command.
GLOBAL_OPTIONS = ("--store", "--import", "--verbose", "-v")


class BatonGroup(TyperGroup):
    """The root command: a global option typed after a subcommand gets an error that
    says where it goes, instead of "No such option"."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Click's NoSuchOption (Typer may ship its own copy of Click: matched by name)
            option = getattr(exc, "option_name", None)
            if type(exc).__name__ == "NoSuchOption" and option in GLOBAL_OPTIONS:
                where = getattr(exc, "ctx", None)
                path = where.command_path if where is not None else "baton COMMAND"
                setattr(exc, "message", misplaced(option, path))  # noqa: B010 - Final in stubs
                setattr(exc, "possibilities", None)  # noqa: B010 - its options, not baton's
            raise


def misplaced(option: str, command_path: str) -> str:
    """The error for a global option typed after the command ``command_path``."""
    root, _, command = command_path.partition(" ")
    return (
        f"{option} is an option of baton itself and goes before the command: "
        f"{root} {option} ... {command or 'COMMAND'} ..."
    )


app = typer.Typer(
    name="baton",
    cls=BatonGroup,
    help="A persistent, multi-node job scheduler for asyncio services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Click's plain help and usage errors: Typer's Rich panels cost 0.1 s of imports on
    # every `--help` and every mistyped option (docs/benchmarks.md).
    rich_markup_mode=None,
)
app.add_typer(jobs.app, name="jobs")
app.add_typer(runs.app, name="runs")
app.add_typer(breakers.app, name="breakers")
app.add_typer(
    fleet.app,
    name="fleet",
    # Listed once its extra is installed; without it, calling it says what to install.
    hidden=not installed("fleet"),
)


@app.callback()
def main_options(
    ctx: typer.Context,
    store: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Store URL (default: $BATON_STORE_URL)."),
    ] = None,
    import_: Annotated[
        list[str] | None,
        typer.Option(
            "--import", metavar="MODULE", help="Module with job types (repeatable; $BATON_IMPORTS)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Say which store the command uses.")
    ] = False,
) -> None:
    from baton.settings import Settings

    with reporting_errors():
        settings = Settings()
    if store:
        settings = settings.model_copy(update={"store_url": store})
    ctx.obj = CliState(
        settings=settings, imports=[*settings.imports, *(import_ or [])], verbose=verbose
    )


app.command()(nodes.worker)
app.command()(serve.serve)
app.command()(demo.demo)
app.command()(check.check)


def main() -> None:
    """Entry point of the ``baton`` console script."""
    app()
