"""Request bodies and response shapes of the admin API that are not baton's own records.

Schedules and runs are returned as :class:`baton.Schedule` and :class:`baton.Run`, with
secret payload fields redacted and lease tokens left out.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from baton._input import MAX_ID_LENGTH, MAX_KEY_LENGTH
from baton.model import NodeInfo, Policy, ScheduleState

#: The part of the id grammar a JSON Schema pattern can state (baton._input.id_problem
#: also refuses format, private-use and unassigned characters).
ID_PATTERN = r"^[^/\s\x00-\x1f\x7f-\x9f]+$"
#: A key: an id without '@'.
KEY_PATTERN = r"^[^@/\s\x00-\x1f\x7f-\x9f]+$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScheduleBody(_Body):
    """A schedule as a client sends it to replace one (``PUT /admin/jobs/{id}``)."""

    type: str = Field(
        min_length=1, max_length=MAX_ID_LENGTH, description="The job type's registered name."
    )
    payload: dict[str, Any] = Field(default_factory=dict)
    trigger: dict[str, Any] = Field(
        description='One key naming the kind: {"interval": {"seconds": 300}}, '
        '{"cron": "*/5 * * * *"}, {"date": "2026-11-27T10:00:00Z"}, {"calendar": {...}}, '
        '{"after": {"schedules": ["a", "b"], "rule": "all_success", "timeout": 300}}.',
        examples=[{"interval": {"seconds": 300}}],
    )
    policy: Policy | None = None
    state: ScheduleState = ScheduleState.ACTIVE


class NewSchedule(ScheduleBody):
    """A schedule as a client creates it (``POST /admin/jobs``)."""

    id: str = Field(
        min_length=1,
        max_length=MAX_ID_LENGTH,
        pattern=ID_PATTERN,
        description="Caller-chosen and stable, e.g. worker-metrics:w-1. Printable, no '/', "
        "no spaces, control, bidi or zero-width characters.",
    )


class TriggerBody(_Body):
    """Optional: a key, so that a retried request does not queue a second run."""

    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=KEY_PATTERN,
        description="Idempotency key: the run's id is <schedule id>@manual:<key>. "
        "1 to 100 printable characters, no '@' or '/'.",
    )


class NodeView(NodeInfo):
    """A node's last heartbeat, how old it is, and the runs it holds leases on."""

    heartbeat_age: float = Field(description="Seconds since the node's last heartbeat.")
    runs: list[str] = Field(default_factory=list, description="Ids of its running runs.")


class Health(BaseModel):
    status: str
