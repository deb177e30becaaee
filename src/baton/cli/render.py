"""Rich tables for schedules and runs.

Every value that comes from the store goes through :func:`escape`: an id such as
``mk[/]`` is text to show, not markup for Rich to read (and fail on).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from baton.app import Baton
from baton.model import Page, Run, RunState, Schedule
from baton.redaction import Redactor

#: ``--show-secrets``: print secret payload values (whoever can run this reads the store).
ShowSecretsFlag = Annotated[
    bool,
    typer.Option(
        "--show-secrets",
        help="Show secret payload values (hidden as *** by default, in --json too).",
    ),
]

_STATE_STYLE = {
    RunState.SUCCEEDED: "green",
    RunState.RUNNING: "cyan",
    RunState.QUEUED: "white",
    RunState.RETRYING: "yellow",
    RunState.FAILED: "red",
    RunState.DEAD: "bold red",
    RunState.CANCELLED: "dim",
    RunState.WAITING: "magenta",
    RunState.SKIPPED: "dim",
}


def redactor(baton: Baton, show_secrets: bool) -> Redactor:
    """What this command may print of payloads, errors and notes."""
    return Redactor(baton.registry, show_secrets=show_secrets)


def redacted_runs(page: Page[Run], shown: Redactor) -> Page[Run]:
    return Page[Run](items=[shown.run(r) for r in page.items], next_cursor=page.next_cursor)


def when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def trigger_text(spec: dict[str, object]) -> str:
    """A trigger spec in one line, escaped."""
    return escape(_trigger_line(spec))


def _trigger_line(spec: dict[str, object]) -> str:
    if "cron" in spec:
        return f"cron {spec['cron']} ({spec.get('timezone', 'UTC')})"
    if not spec:
        return "-"
    (kind, body), *_ = spec.items()
    if isinstance(body, dict):
        parts = [f"{k}={v}" for k, v in body.items() if k not in ("start", "end")]
        return f"{kind} " + " ".join(parts)
    return f"{kind} {body}"


def _json(value: object, limit: int | None = None) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return escape(text if limit is None else text[:limit])


def schedules_table(schedules: Iterable[Schedule]) -> Table:
    table = Table(title="schedules")
    for column in ("id", "type", "trigger", "state", "next fire (UTC)", "payload"):
        table.add_column(column, overflow="fold")
    for s in schedules:
        table.add_row(
            escape(s.id),
            escape(s.type),
            trigger_text(s.trigger),
            s.state.value,
            when(s.next_fire_at),
            _json(s.payload, 60),
        )
    return table


def schedule_detail(s: Schedule) -> Table:
    table = Table(show_header=False, title=f"schedule {escape(s.id)}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("type", escape(s.type)),
        ("state", s.state.value),
        ("trigger", _json(s.trigger)),
        ("payload", _json(s.payload)),
        ("policy", escape(s.policy.model_dump_json())),
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
            escape(r.id),
            escape(r.type),
            f"[{style}]{r.state.value}[/]",
            str(r.attempt),
            when(r.fire_at),
            late,
            took,
            escape(r.owner or "-"),
            escape(r.note or ""),  # why it waits, was skipped or stopped
        )
    return table


def run_detail(r: Run, parents: Mapping[str, Run | None] | None = None) -> Table:
    table = Table(show_header=False, title=f"run {escape(r.id)}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("schedule", escape(r.schedule_id or "-")),
        ("type", escape(r.type)),
        ("state", r.state.value),
        ("attempt", f"{r.attempt} of {r.policy.retry.max_attempts}"),
        ("payload", _json(r.payload)),
        ("fire", when(r.fire_at)),
        ("due", when(r.due_at)),
        ("started", when(r.started_at)),
        ("finished", when(r.finished_at)),
        ("owner", escape(r.owner or "-")),
        ("note", escape(r.note or "-")),
    ]
    if r.after is not None:
        found = parents or {}
        states = (
            f"{rid} {found[rid].state.value if found.get(rid) else 'gone'}"  # type: ignore[union-attr]
            for rid in r.after.runs
        )
        rows.append((f"waits for ({r.after.rule.value})", escape(", ".join(states))))
    if r.error is not None:
        rows += [
            ("error", escape(f"{r.error.type}: {r.error.message}")),
            ("trace", escape(r.error.trace)),
        ]
    for name, value in rows:
        table.add_row(name, value)
    return table
