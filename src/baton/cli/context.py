"""What every command shares: settings, the imported job types, error reporting.

Commands import baton's machinery inside their bodies: ``baton --help`` and a command
that reads a SQLite file load neither the web stack nor a Redis or AWS client.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import urlsplit

import typer
from rich.console import Console

from baton._extras import translating_missing
from baton.errors import BatonError, ConfigurationError, JobTypeNotFoundError, ScheduleExistsError

if TYPE_CHECKING:
    from baton.app import Baton
    from baton.jobs import Registry
    from baton.model import Page
    from baton.node import NodeConfig
    from baton.settings import Settings

#: ``--json``: print one JSON document instead of a table.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]

#: ``--show-secrets``: print secret payload values (whoever can run this reads the store).
ShowSecretsFlag = Annotated[
    bool,
    typer.Option(
        "--show-secrets",
        help="Show secret payload values (hidden as *** by default, in --json too).",
    ),
]

T = TypeVar("T")

# No emoji codes either: ":x:" in an id stays as it is.
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
out_console = Console(highlight=False, emoji=False)


@dataclass
class CliState:
    """Options given before the command, merged over the environment."""

    settings: Settings
    imports: list[str] = field(default_factory=list)
    verbose: bool = False

    def registry(self) -> Registry:
        from baton.jobs import Registry

        registry = Registry()
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # so that --import finds the user's own modules
        for name in self.imports:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                raise ConfigurationError(f"--import: cannot import {name!r} ({exc})") from None
            try:
                registry.add_module(module)
            except (TypeError, ValueError) as exc:
                raise ConfigurationError(f"--import {name}: {exc}") from None
        return registry

    def baton(
        self,
        *,
        node: NodeConfig | None = None,
        jobs: Iterable[Any] = (),
        container: Any | None = None,
        create: bool = False,
    ) -> Baton:
        """The configured Baton, not yet open. Unless ``create``, a SQLite store must
        exist already: a command that only reads or changes what is stored never
        leaves an empty database behind (a mistyped path would look like an empty one)."""
        from baton.app import Baton

        url = self.settings.store_url
        registry = self.registry()
        if not create:
            require_existing(url)
        self.announce_store()
        with translating_missing():
            return Baton(store=url, registry=registry, jobs=jobs, container=container, node=node)

    def announce_store(self) -> None:
        """With ``-v``, say on stderr which store the command uses."""
        if self.verbose:
            err_console.print(f"store: {describe_store(self.settings.store_url)}", markup=False)


def sqlite_path(url: str) -> Path | None:
    """The file a ``sqlite:///`` URL names, or None for another kind of store."""
    if urlsplit(url).scheme not in ("sqlite", "sqlite+aiosqlite"):
        return None
    path = url.split("://", 1)[1]
    return Path(path[1:]) if path.startswith("/") and len(path) > 1 else None


def describe_store(url: str) -> str:
    """The store URL, with a SQLite file's absolute path spelled out."""
    path = sqlite_path(url)
    if path is None:
        parts = urlsplit(url)
        if parts.password:  # never print a password in a log
            return url.replace(f":{parts.password}@", ":***@", 1)
        return url
    return f"{url} (file {path.resolve()})"


def require_existing(url: str) -> None:
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise ConfigurationError(
            f"no baton store at {path.resolve()}: the file does not exist (store {url}); "
            "give --store or $BATON_STORE_URL, or create it with `baton jobs add` or "
            "`baton worker`"
        )


def state_of(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def with_baton(
    ctx: typer.Context, action: Callable[[Baton], Awaitable[T]], *, create: bool = False
) -> T:
    """Open the configured Baton, run ``action`` on it, report errors as one line.
    ``create``: the command may create a missing store (it adds something)."""
    cli = state_of(ctx)

    async def go() -> T:
        async with cli.baton(create=create) as baton:
            return await action(baton)

    return run_async(go)


def print_page(page: Page[Any], table: Callable[[list[Any]], Any], as_json: bool) -> None:
    """A listing: one JSON document, or a table and the cursor of the next page."""
    if as_json:
        print_json({"items": page.items, "next_cursor": page.next_cursor})
        return
    out_console.print(table(page.items))
    if page.next_cursor:
        out_console.print(f"more: --cursor {page.next_cursor}", markup=False)


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine, turning baton's errors into one line on stderr and exit code 1."""
    import asyncio

    with reporting_errors():
        return asyncio.run(factory())  # type: ignore[arg-type]


@contextmanager
def reporting_errors() -> Iterator[None]:
    try:
        with translating_missing():
            yield
    except BatonError as exc:
        # One line whatever the message holds: stored ids may look like Rich markup.
        text = " ".join(f"{exc}{_hint(exc)}".split())
        err_console.print("[bold red]error:[/] ", end="")
        err_console.print(text, markup=False)
        raise typer.Exit(1) from None


def _hint(exc: BatonError) -> str:
    """What the command line adds to a library error: the flag that fixes it."""
    if isinstance(exc, ScheduleExistsError):
        return "; add --replace to replace it"
    if isinstance(exc, JobTypeNotFoundError):
        return " (load the module that defines it with --import MODULE or $BATON_IMPORTS)"
    return ""


def print_json(value: Any) -> None:
    """One JSON document on stdout, strict JSON (a non-finite number shows as null)."""
    text = json.dumps(_plain(value), indent=2, sort_keys=False, allow_nan=False)
    sys.stdout.write(text + "\n")


def _plain(value: Any) -> Any:
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="json"))
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
