"""What every command shares: settings, the imported job types, error reporting."""

from __future__ import annotations

import asyncio
import importlib
import json
import math
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape

from baton.app import Baton
from baton.errors import BatonError, ConfigurationError
from baton.jobs import Registry
from baton.model import Page
from baton.node import NodeConfig
from baton.settings import Settings

#: ``--json``: print one JSON document instead of a table.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]

T = TypeVar("T")

# No emoji codes either: ":x:" in an id stays as it is.
err_console = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
out_console = Console(highlight=False, emoji=False)


@dataclass
class CliState:
    """Options given before the command, merged over the environment."""

    settings: Settings
    imports: list[str] = field(default_factory=list)

    def registry(self) -> Registry:
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
    ) -> Baton:
        return Baton(
            store=self.settings.store_url,
            registry=self.registry(),
            jobs=jobs,
            container=container,
            node=node,
        )


def state_of(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def with_baton(ctx: typer.Context, action: Callable[[Baton], Awaitable[T]]) -> T:
    """Open the configured Baton, run ``action`` on it, report errors as one line."""
    cli = state_of(ctx)

    async def go() -> T:
        async with cli.baton() as baton:
            return await action(baton)

    return run_async(go)


def print_page(page: Page[Any], table: Callable[[list[Any]], Any], as_json: bool) -> None:
    """A listing: one JSON document, or a table and the cursor of the next page."""
    if as_json:
        print_json({"items": page.items, "next_cursor": page.next_cursor})
        return
    out_console.print(table(page.items))
    if page.next_cursor:
        out_console.print(f"more: --cursor {escape(page.next_cursor)}")


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine, turning baton's errors into one line on stderr and exit code 1."""
    with reporting_errors():
        return asyncio.run(factory())  # type: ignore[arg-type]


@contextmanager
def reporting_errors() -> Iterator[None]:
    try:
        yield
    except BatonError as exc:
        # One line whatever the message holds: stored ids may look like Rich markup.
        text = " ".join(str(exc).split())
        err_console.print(f"[bold red]error:[/] {escape(text)}")
        raise typer.Exit(1) from None


def print_json(value: Any) -> None:
    """One JSON document on stdout, strict JSON (a non-finite number shows as null)."""
    text = json.dumps(_plain(value), indent=2, sort_keys=False, allow_nan=False)
    sys.stdout.write(text + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return _plain(value.model_dump(mode="json"))
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
