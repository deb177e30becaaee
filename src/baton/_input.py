"""What a value from outside may be: the limits every edge (Python API, HTTP, CLI) shares.

A value that breaks one of these is refused with an :class:`InvalidInputError` naming
the field, before anything is stored: stored data is read by every node and every
user, so one bad value must never reach it. docs/operations.md lists the limits.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from baton.errors import InvalidInputError

MAX_ID_LENGTH = 200
"""Schedule ids, job type names, event job names."""
MAX_KEY_LENGTH = 100
"""The key of a chosen run id (``<schedule>@manual:<key>``, ``<type>@once:<key>``)."""
MAX_RUN_ID_LENGTH = 320
"""A run id: a schedule id (or type), a tag and a key or a fire time."""
MAX_JSON_DEPTH = 32
"""Nesting of objects and arrays in a payload, event data or a request body."""
MAX_TEXT_LENGTH = 200
"""Free text of a trigger spec: a cron expression, a time zone name."""

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
"""The earliest time accepted anywhere (a date trigger, ``since``, a start)."""
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""The latest: far enough from year 9999 that adding the longest interval never overflows."""
MAX_SPAN = timedelta(days=3653)
"""The longest interval, calendar step, grace, timeout or backoff cap: ten years."""

# Categories no id may contain: controls, format characters (bidi overrides, zero-width
# spaces), surrogates, private use, unassigned, and every kind of space or separator.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def id_problem(value: object, max_length: int = MAX_ID_LENGTH) -> str | None:
    """Why ``value`` is not an id, or ``None``: 1 to ``max_length`` printable characters,
    no ``/`` (ids are URL path segments), no space, control, bidi or zero-width character."""
    if not isinstance(value, str):
        return "must be a string"
    if not value or len(value) > max_length:
        return f"must be 1 to {max_length} characters long"
    if "/" in value:
        return "must not contain '/'"
    if value.isascii():
        if not value.isprintable() or " " in value:
            return "must not contain spaces or control characters"
        return None
    for char in value:
        if unicodedata.category(char) in _BAD_CATEGORIES:
            return (
                f"must not contain U+{ord(char):04X} (spaces, control, bidi, "
                "zero-width and unassigned characters are refused)"
            )
    return None


def check_key(value: object, field: str) -> str:
    """A caller's key for a chosen run id: the id grammar, at most 100 characters, no ``@``
    (so that the id it makes can never be read as another schedule's fire)."""
    problem = id_problem(value, MAX_KEY_LENGTH)
    if problem is None and "@" in str(value):
        problem = "must not contain '@'"
    if problem is not None:
        raise InvalidInputError(problem, field=field)
    assert isinstance(value, str)
    return value


def check_run_id(value: object, field: str = "run_id") -> str:
    """A run id given back by a caller (to look one up): the id grammar, 320 characters."""
    problem = id_problem(value, MAX_RUN_ID_LENGTH)
    if problem is not None:
        raise InvalidInputError(problem, field=field)
    assert isinstance(value, str)
    return value


#: An event id as every store gives them out (a number, or a Redis stream id such as
#: ``1764237600000-0``): at most 18 digits a part, so that each fits a signed 64-bit integer.
POSITION_PATTERN = re.compile(r"[0-9]{1,18}(?:-[0-9]{1,18})?")
#: A run cursor: a number in every store.
RUN_CURSOR_PATTERN = re.compile(r"[0-9]{1,18}")


def text_problem(
    value: str, max_length: int = MAX_TEXT_LENGTH, *, printable: bool = True
) -> str | None:
    """Why a short free text (a cron expression, a filter) cannot be used, or ``None``."""
    if len(value) > max_length:
        return f"must be at most {max_length} characters long"
    if printable and not value.isprintable():
        return "must not contain control characters"
    if not _encodable(value):
        return "must be valid Unicode (it holds a lone surrogate)"
    return None


def time_problem(moment: datetime) -> str | None:
    """Why an aware datetime is out of the accepted range, or ``None``."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        return f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
    if not EARLIEST <= utc < LATEST:
        return f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
    return None


def check_json(value: Any, field: str, error: type[InvalidInputError] = InvalidInputError) -> None:
    """Refuse what strict JSON cannot hold or what would strain every reader: NaN and
    infinities, lone surrogates, nesting deeper than :data:`MAX_JSON_DEPTH`. The
    ``error`` raised names the path to the value (``payload.items[3]``)."""
    for item, path, depth in _walk(value, field):
        if depth > MAX_JSON_DEPTH:
            raise error(f"nests deeper than {MAX_JSON_DEPTH} levels", field=path)
        if isinstance(item, _Constant):
            raise error(f"{item.name} is not JSON (use a number or null)", field=path)
        if isinstance(item, float) and not math.isfinite(item):
            raise error("must be a finite number (no NaN or Infinity)", field=path)
        if isinstance(item, str) and not _encodable(item):
            raise error("must be valid Unicode (it holds a lone surrogate)", field=path)


def _walk(value: Any, path: str) -> Iterator[tuple[Any, str, int]]:
    """Every value inside ``value`` with its path and depth, without recursion (a hostile
    document must not exhaust the stack); keys are yielded as values too."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        yield item, where, depth
        if depth > MAX_JSON_DEPTH:
            return
        if isinstance(item, dict):
            for key, child in item.items():
                yield key, where, depth
                stack.append((child, f"{where}.{_safe(key)}", depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))


def _safe(key: Any) -> str:
    text = str(key)
    return text if _encodable(text) else text.encode("utf-8", "backslashreplace").decode()


def _encodable(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Constant:
    """Where the text said NaN, Infinity or -Infinity: found by :func:`check_json`, which
    knows its path, and refused there."""

    def __init__(self, name: str) -> None:
        self.name = name


def loads_strict(text: str | bytes, field: str) -> Any:
    """Parse JSON as RFC 8259 has it (no NaN or Infinity), refusing deep nesting and lone
    surrogates; errors name the path to the value under ``field`` (``body.payload.x``)."""
    try:
        value = json.loads(text, parse_constant=_Constant)
    except RecursionError:
        raise InvalidInputError(f"nests deeper than {MAX_JSON_DEPTH} levels", field=field) from None
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"is not valid JSON ({exc.msg})", field=field) from None
    except UnicodeDecodeError:
        raise InvalidInputError("is not UTF-8", field=field) from None
    check_json(value, field)
    return value
