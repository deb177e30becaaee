"""The exceptions baton raises, all under one root.

::

    BatonError
    ├── ConfigurationError          bad settings, unknown store URL, missing driver
    ├── InvalidInputError           a value from a caller failed validation; ``field`` names it
    │   ├── InvalidTriggerError
    │   ├── InvalidPayloadError
    │   └── InvalidPolicyError
    ├── JobTypeNotFoundError        no job type is registered under that name
    ├── NotFoundError               the thing asked for does not exist (HTTP 404)
    │   ├── ScheduleNotFoundError
    │   ├── RunNotFoundError
    │   └── BreakerNotFoundError
    ├── ConflictError               the request clashes with what is stored (HTTP 409)
    │   ├── ScheduleExistsError     add without replace on an id that is taken
    │   ├── ScheduleInUseError      remove a schedule that others depend on
    │   └── RunStateError           the run's state does not allow the request (retry a success)
    ├── UpstreamError               a service the application calls failed (HTTP 502)
    └── StoreError                  the store failed; the driver's error is ``__cause__``
        └── StoreVersionError       the store holds a schema this version cannot use

``StopSchedule`` is not an error: a job raises (or returns) it to end its own schedule.

An ``InvalidInputError`` keeps its ``message`` apart from its ``field``, the path to the
value at fault: keys dotted, list positions in brackets (``schedules[3].payload.x``).
An error about a part of a larger input is raised for the whole with
:meth:`InvalidInputError.within`, and :meth:`InvalidInputError.from_validation` reads a
pydantic ``ValidationError``: no caller takes ``str(err)`` apart again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, Self


class ValidationFailure(Protocol):
    """What :meth:`InvalidInputError.from_validation` reads: pydantic's ``ValidationError``,
    or FastAPI's ``RequestValidationError``, whose errors have the same shape."""

    def errors(self) -> Sequence[Mapping[str, Any]]:
        """One mapping per error, with its ``loc`` (keys and list positions) and ``msg``."""
        ...


class BatonError(Exception):
    """Root of every exception baton raises on purpose."""


class ConfigurationError(BatonError):
    """The configuration cannot work: a bad store URL, a missing optional driver."""


class InvalidInputError(BatonError, ValueError):
    """A value given by a caller is invalid.

    ``message`` says what is wrong and ``field`` is the path to the value at fault
    (``None`` when the input as a whole is); ``str()`` joins them as ``field: message``.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    @classmethod
    def from_validation(cls, exc: ValidationFailure, *, skip: int = 0) -> Self:
        """The first error of a pydantic validation, its location as the field path.

        ``skip`` drops leading parts of the location that name no field (FastAPI puts
        the part of the request, ``body`` or ``query``, first).
        """
        errors = exc.errors()
        if not errors:
            return cls("is invalid")
        first = errors[0]
        location = first.get("loc", ())[skip:]
        return cls(str(first.get("msg", "is invalid")), field=field_path(location))

    def within(self, *parents: str | int) -> Self:
        """The same error, its field nested under ``parents``.

        ``err.within("schedules", 3)`` turns ``payload.x`` into ``schedules[3].payload.x``.
        """
        nested = type(self).__new__(type(self))
        nested.__dict__.update(self.__dict__)
        nested.args = self.args
        nested.field = _joined(field_path(parents), self.field)
        return nested


def field_path(loc: Iterable[str | int]) -> str | None:
    """A location as a field path: ``("schedules", 3, "payload")`` -> ``schedules[3].payload``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or None


def _joined(parent: str | None, child: str | None) -> str | None:
    if not parent or not child:
        return parent or child
    return parent + child if child.startswith("[") else f"{parent}.{child}"


class InvalidTriggerError(InvalidInputError):
    """A trigger spec is malformed or describes no possible fire time."""


class InvalidPayloadError(InvalidInputError):
    """A payload does not validate against its job type's model, or is too large."""


class InvalidPolicyError(InvalidInputError):
    """A policy value is out of range."""


class JobTypeNotFoundError(BatonError, LookupError):
    """No job type is registered under the given name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no job type is registered as {name!r}")


class NotFoundError(BatonError, LookupError):
    """The thing asked for does not exist. Applications may subclass it."""


class ConflictError(BatonError):
    """The request clashes with the stored state. Applications may subclass it."""


class ScheduleNotFoundError(NotFoundError):
    """No schedule has the given id."""

    def __init__(self, schedule_id: str) -> None:
        self.schedule_id = schedule_id
        super().__init__(f"no schedule has the id {schedule_id!r}")


class ScheduleExistsError(ConflictError):
    """A schedule with this id exists and the caller did not ask to replace it."""

    def __init__(self, schedule_id: str) -> None:
        self.schedule_id = schedule_id
        super().__init__(f"a schedule with the id {schedule_id!r} exists (use replace)")


class ScheduleInUseError(ConflictError):
    """Removing a schedule that other schedules depend on (``after``); ``dependents``
    names them."""

    def __init__(self, schedule_id: str, dependents: Sequence[str]) -> None:
        self.schedule_id = schedule_id
        self.dependents = tuple(dependents)
        super().__init__(
            f"schedule {schedule_id!r} is a parent of {', '.join(map(repr, dependents))}: "
            "remove them first, or remove it with its dependents"
        )


class RunNotFoundError(NotFoundError):
    """No run has the given id."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run has the id {run_id!r}")


class BreakerNotFoundError(NotFoundError):
    """No circuit breaker has the given key."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no circuit breaker has the key {key!r}")


class RunStateError(ConflictError):
    """The run is in a state that does not allow what was asked of it."""

    def __init__(self, run_id: str, message: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id!r} {message}")


class UpstreamError(BatonError):
    """A service that an application's code calls failed. Applications may subclass it."""


class StoreError(BatonError):
    """The store could not carry out an operation; the driver's error is the cause."""


class StoreVersionError(StoreError):
    """The store was written by another program or a newer version of baton."""
