"""The event log's vocabulary: event kinds, listeners and event-started jobs.

Every state change of a schedule or a run appends one event to the store's log; an
application may append its own (``Baton.emit``). Two things consume the log:

- **Listeners** run on every node that registered them, for every matching event:
  metrics, dashboards, logs. They must be quick and may see an event on several nodes.
- **Event-started jobs** turn a matching event into a one-off run whose id is derived
  from the event's id (``<name>@event:<event id>``). Every node with the scheduler role
  reads the log, and enqueueing is idempotent on the run id, so the run happens once
  however many nodes see the event. Side effects that must happen once (a webhook, an
  alert) belong here, not in listeners.

Patterns are shell-style (``run.*``, ``fleet.alert``), matched against the event kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Final

from baton.model import Event, Policy

SCHEDULE_ADDED: Final = "schedule.added"
SCHEDULE_REPLACED: Final = "schedule.replaced"
SCHEDULE_REMOVED: Final = "schedule.removed"
SCHEDULE_PAUSED: Final = "schedule.paused"
SCHEDULE_RESUMED: Final = "schedule.resumed"
SCHEDULE_MISFIRED: Final = "schedule.misfired"
RUN_WAITING: Final = "run.waiting"
RUN_QUEUED: Final = "run.queued"
RUN_STARTED: Final = "run.started"
RUN_SUCCEEDED: Final = "run.succeeded"
RUN_RETRYING: Final = "run.retrying"
RUN_FAILED: Final = "run.failed"
RUN_DEAD: Final = "run.dead"
RUN_CANCELLED: Final = "run.cancelled"
RUN_SKIPPED: Final = "run.skipped"
RUN_REQUEUED: Final = "run.requeued"
RUN_RELEASED: Final = "run.released"
BREAKER_OPENED: Final = "breaker.opened"
BREAKER_HALF_OPENED: Final = "breaker.half_opened"
BREAKER_CLOSED: Final = "breaker.closed"

#: The event appended when a run reaches each final or waiting state.
RUN_STATE_EVENTS: Final = {
    "succeeded": RUN_SUCCEEDED,
    "retrying": RUN_RETRYING,
    "failed": RUN_FAILED,
    "dead": RUN_DEAD,
    "cancelled": RUN_CANCELLED,
    "skipped": RUN_SKIPPED,
    "waiting": RUN_WAITING,
}

#: Called with each matching event; may be a plain or an async function.
ListenerFunc = Callable[[Event], Awaitable[None] | None]


def kind_matches(pattern: str, kind: str) -> bool:
    """Whether the event kind ``kind`` matches the shell-style ``pattern``."""
    return fnmatchcase(kind, pattern)


@dataclass(frozen=True)
class Listener:
    """A function called on this node for every event whose kind matches ``pattern``."""

    pattern: str
    func: ListenerFunc


def _no_payload(event: Event) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, kw_only=True)
class EventJob:
    """Start a one-off run of the job type ``job`` for every event matching ``pattern``.

    ``payload`` builds the run's payload from the event (validated against the job
    type's model). ``name`` makes the run ids (``<name>@event:<event id>``): two event
    jobs for the same event need different names.
    """

    name: str
    pattern: str
    job: str
    payload: Callable[[Event], Any] = _no_payload
    policy: Policy = field(default_factory=Policy)

    def run_id(self, event: Event) -> str:
        """The id of the one run this job gets for ``event``."""
        return f"{self.name}@event:{event.id}"
