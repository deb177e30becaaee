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
    │   └── RunNotFoundError
    ├── ConflictError               the request clashes with what is stored (HTTP 409)
    │   ├── ScheduleExistsError     add without replace on an id that is taken
    │   └── RunStateError           the run's state does not allow the request (retry a success)
    ├── UpstreamError               a service the application calls failed (HTTP 502)
    └── StoreError                  the store failed; the driver's error is ``__cause__``
        └── StoreVersionError       the store holds a schema this version cannot use

``StopSchedule`` is not an error: a job raises (or returns) it to end its own schedule.
"""

from __future__ import annotations


class BatonError(Exception):
    """Root of every exception baton raises on purpose."""


class ConfigurationError(BatonError):
    """The configuration cannot work: a bad store URL, a missing optional driver."""


class InvalidInputError(BatonError, ValueError):
    """A value given by a caller is invalid. ``field`` names the offending field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


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


class RunNotFoundError(NotFoundError):
    """No run has the given id."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run has the id {run_id!r}")


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
