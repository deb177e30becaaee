"""Names a package exports but imports only when first used.

``baton`` and ``baton.web`` re-export names from their modules; importing every module
up front would make ``baton --help`` pay for pydantic, the web stack and the stores. A
package maps each name to its home module and installs the two hooks made here.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def exports(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package``, whose public names live
    in the modules ``homes`` names."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        vars(sys.modules[package])[name] = value  # the next look-up is a plain global
        return value

    def __dir__() -> list[str]:
        return sorted(homes)

    return __getattr__, __dir__
