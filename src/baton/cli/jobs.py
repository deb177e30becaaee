"""``baton jobs ...``: add, list, show, trigger, pause, resume and remove schedules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from baton.cli.context import (
    JsonFlag,
    ShowSecretsFlag,
    out_console,
    print_json,
    print_page,
    reporting_errors,
    with_baton,
)
from baton.errors import (
    InvalidInputError,
    InvalidPayloadError,
    InvalidTriggerError,
    NotFoundError,
    ScheduleNotFoundError,
)

if TYPE_CHECKING:
    from baton.app import Baton
    from baton.model import Page, Run, Schedule

app = typer.Typer(help="Manage schedules.", no_args_is_help=True)

_KINDS = ("--every", "--cron", "--at", "--calendar", "--trigger")


def _payload(text: str | None) -> dict[str, Any]:
    return {} if text is None else _json_object(text, "payload", InvalidPayloadError)


def _json_object(text: str, field: str, error: type[InvalidInputError]) -> dict[str, Any]:
    from baton._input import loads_strict

    try:
        value = loads_strict(text, field)
    except InvalidInputError as exc:
        raise error(exc.message, field=exc.field) from None
    if not isinstance(value, dict):
        raise error("must be a JSON object", field=field)
    return value


def _trigger(
    every: str | None,
    cron: str | None,
    tz: str | None,
    at: str | None,
    jitter: str | None,
    calendar: str | None = None,
    trigger: str | None = None,
) -> dict[str, Any]:
    from baton.triggers import parse_duration

    given = [
        name
        for name, v in zip(_KINDS, (every, cron, at, calendar, trigger), strict=True)
        if v is not None
    ]
    if len(given) != 1:
        raise InvalidTriggerError(f"give exactly one of {', '.join(_KINDS)}", field="trigger")
    if tz and not (cron or calendar):
        raise InvalidTriggerError("goes with --cron or --calendar", field="--tz")
    if trigger is not None:
        return _json_object(trigger, "--trigger", InvalidTriggerError)
    jitter_s = parse_duration(jitter, field="--jitter").total_seconds() if jitter else None
    if every:
        body: dict[str, Any] = {"seconds": parse_duration(every, field="--every").total_seconds()}
        if jitter_s:
            body["jitter"] = jitter_s
        return {"interval": body}
    if cron:
        spec: dict[str, Any] = {"cron": cron, "timezone": tz or "UTC"}
        if jitter_s:
            spec["jitter"] = jitter_s
        return spec
    if calendar is not None:
        return {"calendar": {**_calendar_fields(calendar), **({"timezone": tz} if tz else {})}}
    if jitter_s:
        raise InvalidTriggerError("does not apply to --at", field="--jitter")
    return {"date": at}


def _after_trigger(
    parents: list[str], rule: str, timeout: str, clashing: list[str | None]
) -> dict[str, Any]:
    from baton.triggers import parse_duration

    if any(clashing):
        raise InvalidTriggerError(
            "fires with its parents' ticks: leave out --every, --cron, --at, --calendar, "
            "--trigger and --jitter",
            field="--after",
        )
    seconds = parse_duration(timeout, field="--after-timeout").total_seconds()
    return {"after": {"schedules": parents, "rule": rule, "timeout": seconds}}


def _calendar_fields(text: str) -> dict[str, Any]:
    """``months=1,hour=3`` (or a JSON object) as the body of a calendar trigger."""
    if text.lstrip().startswith("{"):
        return _json_object(text, "--calendar", InvalidTriggerError)
    fields: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise InvalidTriggerError(
                f"{part!r} is not KEY=VALUE (as in months=1,hour=3)", field="--calendar"
            )
        fields[key.strip()] = int(value) if value.strip().lstrip("-").isdigit() else value
    return fields


def _duration(text: str | None, option: str) -> float | None:
    """Seconds of a duration option; ``none`` (or leaving it out) is no limit."""
    from baton.triggers import parse_duration

    if text is None or text.lower() == "none":
        return None
    return parse_duration(text, field=option).total_seconds()


@app.command("add")
def add(
    ctx: typer.Context,
    job_type: Annotated[str, typer.Argument(metavar="TYPE", help="Registered job type name.")],
    id: Annotated[str, typer.Option("--id", help="Stable schedule id.")],
    payload: Annotated[str | None, typer.Option(help="Payload as a JSON object.")] = None,
    every: Annotated[str | None, typer.Option(help="Interval: 30s, 5m, 1h30m.")] = None,
    cron: Annotated[str | None, typer.Option(help="Cron expression, 5 or 6 fields.")] = None,
    tz: Annotated[str | None, typer.Option(help="Time zone of --cron or --calendar.")] = None,
    at: Annotated[str | None, typer.Option(help="One-off, ISO 8601 with zone.")] = None,
    calendar: Annotated[
        str | None,
        typer.Option(
            help="Calendar interval: months=1,hour=3 (years, months, weeks, days, "
            "hour, minute, second, start_date, end_date)."
        ),
    ] = None,
    trigger: Annotated[
        str | None,
        typer.Option(help='Any trigger spec as JSON: \'{"calendar": {"months": 1}}\'.'),
    ] = None,
    jitter: Annotated[str | None, typer.Option(help="Random delay up to this.")] = None,
    priority: Annotated[int, typer.Option(help="-1000 to 1000, higher runs first.")] = 0,
    max_attempts: Annotated[int, typer.Option(help="Attempts before dead.")] = 1,
    backoff: Annotated[str, typer.Option(help="First retry delay.")] = "1s",
    backoff_max: Annotated[str, typer.Option(help="Longest retry delay.")] = "5m",
    timeout: Annotated[str | None, typer.Option(help="Cancel a run after this.")] = None,
    misfire_grace: Annotated[str, typer.Option(help="How late a fire may run, or none.")] = "60s",
    coalesce: Annotated[bool, typer.Option(help="Fold missed fires into one run.")] = True,
    max_concurrent: Annotated[int, typer.Option(help="Running runs at once.")] = 1,
    replace: Annotated[bool, typer.Option(help="Replace a schedule with this id.")] = False,
    paused: Annotated[bool, typer.Option(help="Add it paused.")] = False,
    after: Annotated[
        list[str] | None,
        typer.Option(help="Fire with this schedule's ticks, after its run (repeatable)."),
    ] = None,
    after_rule: Annotated[
        str, typer.Option(help="all_success, or all_done: start once parents ended.")
    ] = "all_success",
    after_timeout: Annotated[
        str, typer.Option(help="Skip a tick whose parents have not ended by then.")
    ] = "5m",
    as_json: JsonFlag = False,
    show_secrets: ShowSecretsFlag = False,
) -> None:
    """Add a schedule: run TYPE with a payload on a trigger, or after other schedules."""
    from baton.cli.render import redactor, schedule_detail

    with reporting_errors():
        policy = {
            "priority": priority,
            "retry": {
                "max_attempts": max_attempts,
                "backoff": _duration(backoff, "--backoff"),
                "backoff_max": _duration(backoff_max, "--backoff-max"),
            },
            "timeout": _duration(timeout, "--timeout"),
            "misfire_grace": _duration(misfire_grace, "--misfire-grace"),
            "coalesce": coalesce,
            "max_concurrent": max_concurrent,
        }
        if after:
            clashing = [every, cron, at, calendar, trigger, jitter]
            spec = _after_trigger(after, after_rule, after_timeout, clashing)
        else:
            spec = _trigger(every, cron, tz, at, jitter, calendar, trigger)
        data = _payload(payload)

    async def act(baton: Baton) -> Schedule:
        stored = await baton.add(
            job_type,
            id=id,
            payload=data,
            trigger=spec,
            policy=policy,
            replace=replace,
            paused=paused,
        )
        return redactor(baton, show_secrets).schedule(stored)

    schedule = with_baton(ctx, act, create=True)
    if as_json:
        print_json(schedule)
    else:
        out_console.print(schedule_detail(schedule))


@app.command("list")
def list_(
    ctx: typer.Context,
    type: Annotated[str | None, typer.Option(help="Only this job type.")] = None,
    state: Annotated[str | None, typer.Option(help="active or paused.")] = None,
    prefix: Annotated[str | None, typer.Option(help="Only ids starting with this.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1 to 1000).")] = 100,
    cursor: Annotated[str | None, typer.Option(help="From a previous page.")] = None,
    as_json: JsonFlag = False,
    show_secrets: ShowSecretsFlag = False,
) -> None:
    """List schedules by id."""
    from baton.cli.render import redactor, schedules_table
    from baton.model import Page, Schedule

    async def act(baton: Baton) -> Page[Schedule]:
        page = await baton.list(
            type=type, state=state, id_prefix=prefix, cursor=cursor, limit=limit
        )
        shown = redactor(baton, show_secrets)
        return Page[Schedule](
            items=[shown.schedule(s) for s in page.items], next_cursor=page.next_cursor
        )

    print_page(with_baton(ctx, act), schedules_table, as_json)


@app.command("show")
def show(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Schedule id.")],
    as_json: JsonFlag = False,
    show_secrets: ShowSecretsFlag = False,
) -> None:
    """Show one schedule and its latest runs (or why it is gone, if the history knows)."""
    from baton.cli.render import redacted_runs, redactor, runs_table, schedule_detail

    async def both(baton: Baton) -> tuple[Schedule, Page[Run]]:
        shown = redactor(baton, show_secrets)
        try:
            schedule = shown.schedule(await baton.get(id))
        except ScheduleNotFoundError as exc:
            why = await _why_gone(baton, id)
            if why is None:
                raise
            raise NotFoundError(f"{exc}: {why}") from None
        return schedule, redacted_runs(await baton.runs(schedule_id=id, limit=10), shown)

    schedule, runs = with_baton(ctx, both)
    if as_json:
        print_json({**schedule.model_dump(mode="json"), "recent_runs": runs.items})
        return
    out_console.print(schedule_detail(schedule))
    out_console.print(runs_table(runs.items, title="latest runs"))


_EVENT_PAGES = 50  # how far back into the event log a missing schedule is looked for


async def _why_gone(baton: Baton, schedule_id: str) -> str | None:
    """Why a schedule no longer exists, as far as its runs and the event log tell."""
    from baton.cli.render import when
    from baton.events import SCHEDULE_REMOVED

    for run in (await baton.runs(schedule_id=schedule_id, limit=20)).items:
        if run.note and run.note.startswith("schedule stopped: "):
            reason = run.note.removeprefix("schedule stopped: ")
            return f"its job stopped it in run {run.id} at {when(run.finished_at)}: {reason}"
    removed, after = None, None
    for _ in range(_EVENT_PAGES):
        events = await baton.events(after=after, limit=1000)
        if not events:
            break
        for event in events:
            if event.kind == SCHEDULE_REMOVED and event.subject == schedule_id:
                removed = event
        after = events[-1].id
    if removed is None:
        return None
    reason = removed.data.get("reason") or "no reason recorded"
    return f"it was removed at {when(removed.at)}: {reason}"


@app.command("trigger")
def trigger(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Schedule id.")],
    key: Annotated[
        str | None,
        typer.Option(help="Idempotency key: the run's id becomes ID@manual:KEY."),
    ] = None,
    as_json: JsonFlag = False,
    show_secrets: ShowSecretsFlag = False,
) -> None:
    """Queue a run of a schedule now."""
    from baton.cli.render import redactor

    async def act(baton: Baton) -> Run:
        return redactor(baton, show_secrets).run(await baton.trigger(id, key=key))

    run = with_baton(ctx, act)
    if as_json:
        print_json(run)
    else:
        out_console.print(f"queued {run.id}", markup=False)


def _simple(verb: str, done: str, doc: str) -> None:
    def command(
        ctx: typer.Context,
        id: Annotated[str, typer.Argument(help="Schedule id.")],
        as_json: JsonFlag = False,
        show_secrets: ShowSecretsFlag = False,
    ) -> None:
        from baton.cli.render import redactor

        async def act(baton: Baton) -> Any:
            result = await getattr(baton, verb)(id)
            if result is None:
                return {"id": id, "removed": True}
            return redactor(baton, show_secrets).schedule(result)

        result = with_baton(ctx, act)
        if as_json:
            print_json(result)
        else:
            out_console.print(f"{done} {id}", markup=False)

    command.__doc__ = doc
    app.command(verb)(command)


_simple("pause", "paused", "Stop firing a schedule.")
_simple("resume", "resumed", "Fire a paused schedule again from its next tick.")


@app.command("remove")
def remove(
    ctx: typer.Context,
    id: Annotated[str, typer.Argument(help="Schedule id.")],
    with_dependents: Annotated[
        bool, typer.Option(help="Also remove the schedules that run after it.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Delete a schedule; its runs stay as history."""
    with_baton(ctx, lambda baton: baton.remove(id, with_dependents=with_dependents))
    if as_json:
        print_json({"id": id, "removed": True})
    else:
        out_console.print(f"removed {id}", markup=False)
