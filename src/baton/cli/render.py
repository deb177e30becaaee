"""Rich tables for schedules and runs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from rich.markup import escape
from rich.table import Table

from baton.model import Run, RunState, Schedule

_STATE_STYLE = {
    RunState.SUCCEEDED: "green",
    RunState.RUNNING: "cyan",
    RunState.QUEUED: "white",
    RunState.RETRYING: "yellow",
    RunState.FAILED: "red",
    RunState.DEAD: "bold red",
    RunState.CANCELLED: "dim",
}


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def trigger_text(spec: dict[str, object]) -> str:
    if "cron" in spec:
        return f"cron {spec['cron']} ({spec.get('timezone', 'UTC')})"
    (kind, body), *_ = spec.items()
    if isinstance(body, dict):
        parts = [f"{k}={v}" for k, v in body.items() if k not in ("start", "end")]
        return f"{kind} " + " ".join(parts)
    return f"{kind} {body}"


def schedules_table(schedules: Iterable[Schedule]) -> Table:
    table = Table(title="schedules")
    for column in ("id", "type", "trigger", "state", "next fire (UTC)", "payload"):
        table.add_column(column, overflow="fold")
    for s in schedules:
        table.add_row(
            s.id,
            s.type,
            trigger_text(s.trigger),
            s.state.value,
            when(s.next_fire_at),
            json.dumps(s.payload)[:60],
        )
    return table


def schedule_detail(s: Schedule) -> Table:
    table = Table(show_header=False, title=f"schedule {s.id}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("type", s.type),
        ("state", s.state.value),
        ("trigger", json.dumps(s.trigger)),
        ("payload", json.dumps(s.payload)),
        ("policy", s.policy.model_dump_json()),
        ("next fire", when(s.next_fire_at)),
        ("last fire", when(s.last_fire_at)),
        ("version", str(s.version)),
        ("created", when(s.created_at)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def runs_table(runs: Iterable[Run], title: str = "runs") -> Table:
    table = Table(title=title)
    columns = ("id", "type", "state", "attempt", "fire (UTC)", "late ms", "took ms", "node", "note")
    for column in columns:
        table.add_column(column, overflow="fold")
    for r in runs:
        late = (
            "-"
            if r.started_at is None
            else f"{(r.started_at - r.due_at).total_seconds() * 1000:.1f}"
        )
        took = "-" if r.duration is None else f"{r.duration.total_seconds() * 1000:.1f}"
        style = _STATE_STYLE.get(r.state, "")
        table.add_row(
            r.id,
            r.type,
            f"[{style}]{r.state.value}[/]",
            str(r.attempt),
            when(r.fire_at),
            late,
            took,
            r.owner or "-",
            escape(r.note or ""),  # why it waits, was skipped or stopped
        )
    return table


def run_detail(r: Run) -> Table:
    table = Table(show_header=False, title=f"run {r.id}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("schedule", r.schedule_id or "-"),
        ("type", r.type),
        ("state", r.state.value),
        ("attempt", f"{r.attempt} of {r.policy.retry.max_attempts}"),
        ("payload", json.dumps(r.payload)),
        ("fire", when(r.fire_at)),
        ("due", when(r.due_at)),
        ("started", when(r.started_at)),
        ("finished", when(r.finished_at)),
        ("owner", r.owner or "-"),
        ("note", r.note or "-"),
    ]
    if r.error is not None:
        rows += [("error", f"{r.error.type}: {r.error.message}"), ("trace", r.error.trace)]
    for name, value in rows:
        table.add_row(name, value)
    return table
