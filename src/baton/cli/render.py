"""Rich tables for schedules and runs.

Every value that comes from the store goes through :func:`escape`: an id such as
``mk[/]`` is text to show, not markup for Rich to read (and fail on).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from baton.app import Baton
from baton.model import Page, Run, RunState, Schedule
from baton.redaction import Redactor

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


#: Columns of the runs table after the id, the first ones kept when space is short.
_RUN_COLUMNS = ("state", "attempt", "type", "fire (UTC)", "took ms", "late ms", "node", "note")
_MS = timedelta(milliseconds=1)


def runs_table(runs: Iterable[Run], title: str = "runs", width: int | None = None) -> Table:
    """Runs, one line each: a run id is never wrapped (it is copied into other
    commands); in a narrow terminal the last columns are left out to make room."""
    rows = [_run_cells(r) for r in runs]
    columns = _fitting(rows, width if width is not None else _console_width())
    table = Table(title=title)
    table.add_column("id", no_wrap=True)
    for column in columns:
        table.add_column(column, overflow="fold")
    for cells in rows:
        table.add_row(cells["id"], *(cells[c] for c in columns))
    return table


def _console_width() -> int:
    from baton.cli.context import out_console

    return out_console.width


def _fitting(rows: list[dict[str, str]], width: int) -> list[str]:
    """The columns that fit beside the widest id (3 characters of border each)."""

    def wide(column: str) -> int:
        plain = [Text.from_markup(cells[column]).cell_len for cells in rows]
        return max([len(column), *plain]) + 3

    used = wide("id") + 1
    kept = []
    for column in _RUN_COLUMNS:
        used += wide(column)
        if used > width:
            break
        kept.append(column)
    return kept


def _run_cells(r: Run) -> dict[str, str]:
    late = "-" if r.started_at is None else f"{(r.started_at - r.due_at) / _MS:.1f}"
    took = "-" if r.duration is None else f"{r.duration / _MS:.1f}"
    style = _STATE_STYLE.get(r.state, "")
    return {
        "id": escape(r.id),
        "type": escape(r.type),
        "state": f"[{style}]{r.state.value}[/]",
        "attempt": str(r.attempt),
        "fire (UTC)": when(r.fire_at),
        "late ms": late,
        "took ms": took,
        "node": escape(r.owner or "-"),
        "note": escape(r.note or ""),  # why it waits, was skipped or stopped
    }


def attempt_text(r: Run) -> str:
    """``2 of 3``; a run retried by hand past its policy says so instead of "3 of 2"."""
    allowed = r.policy.retry.max_attempts
    if r.attempt <= allowed:
        return f"{r.attempt} of {allowed}"
    return f"{r.attempt} ({allowed} by its policy, then retried by hand)"


def run_detail(r: Run, parents: Mapping[str, Run | None] | None = None) -> Table:
    table = Table(show_header=False, title=f"run {escape(r.id)}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("schedule", escape(r.schedule_id or "-")),
        ("type", escape(r.type)),
        ("state", r.state.value),
        ("attempt", attempt_text(r)),
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
