"""Tables and row conversions shared by the SQL stores (SQLAlchemy Core).

Times are stored as integer microseconds since the Unix epoch (UTC): compact, indexable
and free of driver timezone quirks. Payloads, policies and errors are JSON text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from baton.model import (
    Dependencies,
    Event,
    NodeInfo,
    Policy,
    Run,
    RunError,
    RunState,
    Schedule,
    ScheduleState,
)

SCHEMA_VERSION = 3
"""2 added ``baton_runs.lease_losses`` (a version 1 file gains it, zero, when opened);
3 added ``baton_runs.dependencies`` (the runs a run waits for) and the index of waiting
runs (an older file gains both, empty, when opened)."""

metadata = MetaData()

meta = Table(
    "baton_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

schedules = Table(
    "baton_schedules",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("type", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("policy", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("next_fire_at", BigInteger),
    Column("last_fire_at", BigInteger),
    Column("version", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_baton_schedules_due", "next_fire_at", sqlite_where=text("state = 'active'")),
    Index("ix_baton_schedules_type", "type"),
)

runs = Table(
    "baton_runs",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String(260), nullable=False, unique=True),
    Column("schedule_id", String(200)),
    Column("type", String(200), nullable=False),
    Column("payload", Text, nullable=False),
    Column("policy", Text, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("max_concurrent", Integer, nullable=False),
    Column("fire_at", BigInteger, nullable=False),
    Column("due_at", BigInteger, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("lease_losses", Integer, nullable=False, server_default=text("0")),
    Column("state", String(16), nullable=False),
    Column("owner", String(200)),
    Column("lease_token", String(64)),
    Column("lease_expires_at", BigInteger),
    Column("cancel_requested", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger),
    Column("finished_at", BigInteger),
    Column("error", Text),
    Column("note", Text),
    Column("dependencies", Text),
    Index(
        "ix_baton_runs_claim",
        text("priority DESC"),
        "due_at",
        sqlite_where=text("state IN ('queued', 'retrying')"),
    ),
    Index("ix_baton_runs_lease", "lease_expires_at", sqlite_where=text("state = 'running'")),
    Index("ix_baton_runs_schedule", "schedule_id", "state"),
    Index("ix_baton_runs_finished", "finished_at"),
    # Listing waiting runs (newest first) is what every scheduler node does each pass.
    Index("ix_baton_runs_waiting", "seq", sqlite_where=text("state = 'waiting'")),
)

events = Table(
    "baton_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("subject", String(260), nullable=False),
    Column("data", Text, nullable=False),
)

breakers = Table(
    "baton_breakers",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("data", Text, nullable=False),
)

cursors = Table(
    "baton_cursors",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("event_id", BigInteger, nullable=False),
)

nodes = Table(
    "baton_nodes",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("info", Text, nullable=False),
    Column("heartbeat_at", BigInteger, nullable=False),
)


def to_us(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return round(moment.timestamp() * 1_000_000)


def from_us(value: int | None) -> datetime | None:
    if value is None:
        return None
    seconds, micros = divmod(value, 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def schedule_row(schedule: Schedule) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "type": schedule.type,
        "payload": _dumps(schedule.payload),
        "trigger": _dumps(schedule.trigger),
        "policy": schedule.policy.model_dump_json(),
        "state": schedule.state.value,
        "next_fire_at": to_us(schedule.next_fire_at),
        "last_fire_at": to_us(schedule.last_fire_at),
        "version": schedule.version,
        "created_at": to_us(schedule.created_at),
        "updated_at": to_us(schedule.updated_at),
    }


def schedule_from_row(row: Any) -> Schedule:
    """A stored schedule. Rows are ours and were validated on the way in: no re-validation."""
    m = row._mapping
    return Schedule.trusted(
        dict(
            id=m["id"],
            type=m["type"],
            payload=json.loads(m["payload"]),
            trigger=json.loads(m["trigger"]),
            policy=policy_from_json(m["policy"]),
            state=ScheduleState(m["state"]),
            next_fire_at=from_us(m["next_fire_at"]),
            last_fire_at=from_us(m["last_fire_at"]),
            version=m["version"],
            created_at=from_us(m["created_at"]),
            updated_at=from_us(m["updated_at"]),
        )
    )


@lru_cache(maxsize=1024)
def policy_from_json(text: str) -> Policy:
    """Policies repeat across thousands of runs; parse each distinct one once."""
    return Policy.model_validate_json(text)


def run_row(run: Run) -> dict[str, Any]:
    """Every column of a run but ``seq``."""
    return {
        "id": run.id,
        "schedule_id": run.schedule_id,
        "type": run.type,
        "payload": _dumps(run.payload),
        "policy": run.policy.model_dump_json(),
        "priority": run.policy.priority,
        "max_concurrent": run.policy.max_concurrent,
        "fire_at": to_us(run.fire_at),
        "due_at": to_us(run.due_at),
        "attempt": run.attempt,
        "lease_losses": run.lease_losses,
        "state": run.state.value,
        "owner": run.owner,
        "lease_token": run.lease_token,
        "lease_expires_at": to_us(run.lease_expires_at),
        "cancel_requested": run.cancel_requested,
        "created_at": to_us(run.created_at),
        "started_at": to_us(run.started_at),
        "finished_at": to_us(run.finished_at),
        "error": run.error.model_dump_json() if run.error else None,
        "note": run.note,
        "dependencies": run.after.model_dump_json() if run.after else None,
    }


def run_changes(run: Run) -> dict[str, Any]:
    """The columns of :data:`RUN_MUTABLE`, keyed ``b_<column>``, plus ``b_id``."""
    return {
        "b_id": run.id,
        "b_due_at": to_us(run.due_at),
        "b_attempt": run.attempt,
        "b_lease_losses": run.lease_losses,
        "b_state": run.state.value,
        "b_owner": run.owner,
        "b_lease_token": run.lease_token,
        "b_lease_expires_at": to_us(run.lease_expires_at),
        "b_cancel_requested": run.cancel_requested,
        "b_started_at": to_us(run.started_at),
        "b_finished_at": to_us(run.finished_at),
        "b_error": run.error.model_dump_json() if run.error else None,
        "b_note": run.note,
    }


#: Columns a state change may touch; the rest are fixed when the run is created.
RUN_MUTABLE = (
    "due_at",
    "attempt",
    "lease_losses",
    "state",
    "owner",
    "lease_token",
    "lease_expires_at",
    "cancel_requested",
    "started_at",
    "finished_at",
    "error",
    "note",
)


def run_from_row(row: Any) -> Run:
    """A stored run, built without re-validation (see :func:`schedule_from_row`)."""
    m = row._mapping
    error, deps = m["error"], m["dependencies"]
    return Run.trusted(
        dict(
            id=m["id"],
            schedule_id=m["schedule_id"],
            type=m["type"],
            payload=json.loads(m["payload"]),
            policy=policy_from_json(m["policy"]),
            fire_at=from_us(m["fire_at"]),
            due_at=from_us(m["due_at"]),
            attempt=m["attempt"],
            lease_losses=m["lease_losses"],
            state=RunState(m["state"]),
            owner=m["owner"],
            lease_token=m["lease_token"],
            lease_expires_at=from_us(m["lease_expires_at"]),
            cancel_requested=bool(m["cancel_requested"]),
            created_at=from_us(m["created_at"]),
            started_at=from_us(m["started_at"]),
            finished_at=from_us(m["finished_at"]),
            error=RunError.model_validate_json(error) if error else None,
            note=m["note"],
            after=Dependencies.model_validate_json(deps) if deps else None,
        )
    )


def event_row(kind: str, subject: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {"kind": kind, "at": to_us(at), "subject": subject, "data": _dumps(data)}


def event_from_row(row: Any) -> Event:
    m = row._mapping
    return Event.trusted(
        dict(
            id=str(m["id"]),
            kind=m["kind"],
            at=from_us(m["at"]),
            subject=m["subject"],
            data=json.loads(m["data"]),
        )
    )


def node_from_row(row: Any) -> NodeInfo:
    m = row._mapping
    info = json.loads(m["info"])
    info["heartbeat_at"] = from_us(m["heartbeat_at"])
    return NodeInfo.model_validate(info)
