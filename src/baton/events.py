"""Event kinds of the append-only log. Every state change of a schedule or a run appends one."""

from __future__ import annotations

from typing import Final

SCHEDULE_ADDED: Final = "schedule.added"
SCHEDULE_REPLACED: Final = "schedule.replaced"
SCHEDULE_REMOVED: Final = "schedule.removed"
SCHEDULE_PAUSED: Final = "schedule.paused"
SCHEDULE_RESUMED: Final = "schedule.resumed"
SCHEDULE_MISFIRED: Final = "schedule.misfired"
RUN_QUEUED: Final = "run.queued"
RUN_STARTED: Final = "run.started"
RUN_SUCCEEDED: Final = "run.succeeded"
RUN_RETRYING: Final = "run.retrying"
RUN_FAILED: Final = "run.failed"
RUN_DEAD: Final = "run.dead"
RUN_CANCELLED: Final = "run.cancelled"
RUN_REQUEUED: Final = "run.requeued"
RUN_RELEASED: Final = "run.released"

#: The event appended when a run reaches each final or waiting state.
RUN_STATE_EVENTS: Final = {
    "succeeded": RUN_SUCCEEDED,
    "retrying": RUN_RETRYING,
    "failed": RUN_FAILED,
    "dead": RUN_DEAD,
    "cancelled": RUN_CANCELLED,
}
