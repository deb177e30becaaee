"""Optional dependencies: which extra brings which library, and the error that says so.

A missing library is named by the extra that installs it, whichever module tried to
import it first, so that a plain ``pip install baton`` never ends in a traceback.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

from baton.errors import ConfigurationError

#: Top-level import name -> the extra that installs it.
EXTRA_OF = {
    "redis": "redis",
    "hiredis": "redis",
    "aiobotocore": "fleet",
    "botocore": "fleet",
    "aiohttp": "fleet",
    "httpx": "fleet",
    "aiosqlite": "fleet",
    "greenlet": "fleet",
    "moto": "demo",
    "werkzeug": "demo",
    "flask": "demo",
    "flask_cors": "demo",
}

#: What each extra is for, in the words of the error.
PURPOSE = {
    "redis": "the Redis store",
    "fleet": "the CML fleet monitor",
    "demo": "the demo",
}


def install_hint(extra: str) -> str:
    return f"pip install 'baton[{extra}]'"


def missing(extra: str, module: str | None = None) -> ConfigurationError:
    """The error for a feature whose extra is not installed."""
    lacking = f" ({module} is not installed)" if module else ""
    return ConfigurationError(
        f"{PURPOSE.get(extra, extra)} needs the {extra!r} extra{lacking}: {install_hint(extra)}"
    )


def installed(extra: str) -> bool:
    """Whether the libraries of ``extra`` can be imported (without importing them)."""
    return all(
        importlib.util.find_spec(name) is not None
        for name, owner in EXTRA_OF.items()
        if owner == extra and name in _ESSENTIAL
    )


_ESSENTIAL = {"redis", "aiobotocore", "httpx", "aiosqlite", "moto"}


@contextmanager
def translating_missing(default: str | None = None) -> Iterator[None]:
    """Turn a ``ModuleNotFoundError`` of an optional library into the error naming its
    extra. ``default`` is the extra to name when the missing module is not a known one."""
    try:
        yield
    except ModuleNotFoundError as exc:
        top = (exc.name or "").partition(".")[0]
        extra = EXTRA_OF.get(top, default)
        if extra is None:
            raise
        raise missing(extra, top or None) from exc
