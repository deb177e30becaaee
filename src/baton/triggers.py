"""Trigger specs (JSON) and their time arithmetic.

A spec is a JSON object with one key naming the kind::

    {"interval": {"seconds": 300, "jitter": 10, "start": "...", "end": "..."}}
    {"cron": "*/5 * * * *", "timezone": "Europe/Brussels"}
    {"date": "2026-11-27T10:00:00Z"}
    {"calendar": {"months": 1, "hour": 3, "timezone": "UTC"}}
    {"after": {"schedules": ["a", "b"], "rule": "all_success", "timeout": 300}}

The arithmetic is done by APScheduler 3's trigger classes, built without jitter: a fire
time here is always the nominal tick, so the run id derived from it is the same on every
node. Jitter only delays the run's due time (see :meth:`Trigger.due_at`).

Cron expressions have 5 fields (minute hour day month day-of-week) or 6 with seconds
first. Day-of-week numbers follow crontab (0 and 7 are Sunday), not APScheduler 3's
Monday-first numbering.

``after`` has no time arithmetic of its own: such a schedule fires for every fire time
of its parents that all of them share, and its run for that tick waits for theirs (the
node's dependency resolver creates and settles those runs; see ``baton.node``).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from baton._identity import IdentityCache
from baton._input import EARLIEST, LATEST, MAX_SPAN, text_problem
from baton.errors import InvalidTriggerError
from baton.model import (
    DependencyRule,
    Schedule,
    UTCDateTime,
    check_id,
    to_millisecond,
    utc_iso,
)

TriggerKind = Literal["interval", "cron", "date", "calendar", "after"]
_KINDS: tuple[str, ...] = ("interval", "cron", "date", "calendar", "after")


MIN_INTERVAL = timedelta(milliseconds=50)
"""The shortest interval. Twenty fires a second per schedule is what a node keeps up with
alongside everything else (the multi-node tests tick at it); shorter ones build a backlog
faster than the fire loop plans it."""
MAX_JITTER = timedelta(days=1)
"""The longest jitter of any trigger (an interval's is also at most the interval)."""
_SPAN_S = MAX_SPAN.total_seconds()
_MAX_JITTER_S = MAX_JITTER.total_seconds()


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class IntervalSpec(_Spec):
    # Each part alone at most MAX_SPAN, so that their sum is a float, not an overflow.
    weeks: float = Field(default=0, ge=0, le=_SPAN_S / 604800)
    days: float = Field(default=0, ge=0, le=_SPAN_S / 86400)
    hours: float = Field(default=0, ge=0, le=_SPAN_S / 3600)
    minutes: float = Field(default=0, ge=0, le=_SPAN_S / 60)
    seconds: float = Field(default=0, ge=0, le=_SPAN_S)
    jitter: float | None = Field(default=None, ge=0, le=_MAX_JITTER_S)
    start: UTCDateTime | None = None
    end: UTCDateTime | None = None

    @property
    def length(self) -> timedelta:
        return timedelta(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
        )


class CronSpec(_Spec):
    cron: str
    timezone: str = "UTC"
    jitter: float | None = Field(default=None, ge=0, le=_MAX_JITTER_S)
    start: UTCDateTime | None = None
    end: UTCDateTime | None = None

    @field_validator("cron")
    @classmethod
    def _short_text(cls, value: str) -> str:
        problem = text_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


class DateSpec(_Spec):
    date: UTCDateTime


class CalendarSpec(_Spec):
    years: int = Field(default=0, ge=0, le=MAX_SPAN.days // 365)
    months: int = Field(default=0, ge=0, le=MAX_SPAN.days // 365 * 12)
    weeks: int = Field(default=0, ge=0, le=MAX_SPAN.days // 7)
    days: int = Field(default=0, ge=0, le=MAX_SPAN.days)
    hour: int = Field(default=0, ge=0, le=23)
    minute: int = Field(default=0, ge=0, le=59)
    second: int = Field(default=0, ge=0, le=59)
    timezone: str = "UTC"
    jitter: float | None = Field(default=None, ge=0, le=_MAX_JITTER_S)
    start: date | None = None
    end: date | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date_only(cls, value: Any) -> Any:
        if isinstance(value, str) and "T" in value:
            raise ValueError("must be a date (YYYY-MM-DD), not a datetime")
        return value

    @field_validator("start", "end")
    @classmethod
    def _in_range(cls, value: date | None) -> date | None:
        if value is not None and not EARLIEST.date() <= value < LATEST.date():
            raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
        return value


class AfterSpec(_Spec):
    """A dependency trigger: fire for the parents' shared ticks, once their runs end."""

    schedules: tuple[str, ...] = Field(min_length=1, max_length=20)
    rule: DependencyRule = DependencyRule.ALL_SUCCESS
    timeout: float = Field(default=300, gt=0, le=7 * 86400)
    """Seconds a tick's run waits for its parents' runs before it is skipped."""

    @field_validator("schedules")
    @classmethod
    def _distinct_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for sid in value:
            check_id(sid, "a parent schedule id")
        if len(set(value)) != len(value):
            raise ValueError("names a parent twice")
        return value


class Trigger:
    """A parsed trigger spec that computes nominal fire times. Build with :func:`parse_trigger`."""

    def __init__(self, kind: TriggerKind, spec: _Spec, impl: BaseTrigger) -> None:
        self.kind = kind
        self._spec = spec
        self._impl = impl
        # Read once: a spec without the field answers through pydantic's slow path.
        self._jitter: float | None = getattr(spec, "jitter", None)

    @property
    def jitter(self) -> float | None:
        """Seconds by which a run may start after its fire time (random, per run)."""
        return self._jitter

    def to_json(self) -> dict[str, Any]:
        """The normalised spec, as stored and returned by the API."""
        data = self._spec.model_dump(mode="json", exclude_defaults=True)
        if self.kind == "cron":
            data.setdefault("timezone", "UTC")
            return data
        if self.kind == "date":
            return {"date": utc_iso(self._spec.date)}  # type: ignore[attr-defined]
        return {self.kind: data}

    def first_fire(self, now: datetime) -> datetime | None:
        """The first fire time at or after ``now`` (for a date trigger: its date)."""
        return self._accepted(_utc(self._impl.get_next_fire_time(None, now)))

    def next_after(self, previous: datetime) -> datetime | None:
        """The fire time that follows ``previous``, or ``None`` when the trigger is done."""
        return self._accepted(self._raw_next(previous))

    def _raw_next(self, previous: datetime) -> datetime | None:
        result = _utc(self._impl.get_next_fire_time(previous, previous))
        if result is not None and result <= previous:
            # APScheduler may hand back the same instant around DST folds; step past it.
            result = _utc(self._impl.get_next_fire_time(previous, previous + timedelta(seconds=1)))
            if result is not None and result <= previous:
                return None
        return result

    def _accepted(self, candidate: datetime | None) -> datetime | None:
        """Skip candidates the kind refuses (see :class:`_CronTrigger`)."""
        while candidate is not None and not self._accept(candidate):
            candidate = self._raw_next(candidate)
        return candidate

    def _accept(self, candidate: datetime) -> bool:
        return True

    @property
    def after(self) -> AfterSpec | None:
        """The parents of a dependency trigger; ``None`` for a trigger that keeps time."""
        return None

    def has_tick(self, moment: datetime) -> bool:
        """Whether ``moment`` is one of this trigger's fire times."""
        return self.skip_to(moment, moment - _TICK) == moment

    def skip_to(self, moment: datetime, cursor: datetime) -> datetime | None:
        """The first fire time at or after ``moment`` that is later than ``cursor``."""
        if self.kind in ("interval", "cron"):
            candidate = self._accepted(_utc(self._impl.get_next_fire_time(None, moment)))
            if candidate is None or candidate > cursor:
                return candidate
        following = self.next_after(cursor)
        while following is not None and following < moment:
            following = self.next_after(following)
        return following

    def due_at(self, fire_at: datetime, rng: random.Random | None = None) -> datetime:
        """When a fire's run may start: the fire time plus this trigger's random jitter."""
        if not self.jitter:
            return fire_at
        return fire_at + timedelta(seconds=(rng or random).uniform(0, self.jitter))


#: The smallest step between two fire times (schedules keep times to the millisecond).
_TICK = timedelta(milliseconds=1)


class DependencyTrigger(Trigger):
    """``{"after": {...}}``: no fire times of its own (a schedule with it is never due);
    the node makes its runs from its parents' fires."""

    def __init__(self, spec: AfterSpec) -> None:
        self.kind = "after"
        self._spec = spec
        self._jitter = None

    @property
    def after(self) -> AfterSpec:
        assert isinstance(self._spec, AfterSpec)
        return self._spec

    def to_json(self) -> dict[str, Any]:
        return {"after": self._spec.model_dump(mode="json")}

    def first_fire(self, now: datetime) -> datetime | None:
        return None

    def next_after(self, previous: datetime) -> datetime | None:
        return None

    def skip_to(self, moment: datetime, cursor: datetime) -> datetime | None:
        return None


def parse_trigger(spec: Any, *, now: datetime | None = None) -> Trigger:
    """Parse and validate a trigger spec; raise :class:`InvalidTriggerError` naming the field.

    ``now`` anchors an interval without ``start`` (its first fire is one interval after
    ``now``, to the millisecond) and a calendar interval without ``start``; the anchor
    is kept in the normalised spec so that every node computes the same ticks.
    """
    if not isinstance(spec, Mapping):
        raise InvalidTriggerError("must be a JSON object", field="trigger")
    kinds = [k for k in _KINDS if k in spec]
    if len(kinds) != 1:
        raise InvalidTriggerError(
            f"must have exactly one of the keys {', '.join(_KINDS)}", field="trigger"
        )
    kind = kinds[0]
    moment = now or datetime.now(UTC)
    try:
        if kind == "interval":
            return _interval(spec, moment)
        if kind == "cron":
            return _cron(spec)
        if kind == "date":
            return _date(spec)
        if kind == "after":
            return DependencyTrigger(AfterSpec.model_validate(_object_body(spec, "after")))
        return _calendar(spec, moment)
    except ValidationError as exc:
        raise _from_validation(kind, exc) from None


def _from_validation(kind: str, exc: ValidationError) -> InvalidTriggerError:
    # An interval's and a calendar's fields sit in an object under the kind; a cron's and
    # a date's sit beside the kind, at the top of the spec.
    nested = kind in ("interval", "calendar", "after")
    parents = ("trigger", kind) if nested else ("trigger",)
    return InvalidTriggerError.from_validation(exc).within(*parents)


def _interval(spec: Mapping[str, Any], now: datetime) -> Trigger:
    parsed = IntervalSpec.model_validate(_object_body(spec, "interval"))
    _check_interval(parsed)
    if parsed.start is None:
        # Anchored to the millisecond: run ids and stored specs stay short.
        parsed = parsed.model_copy(update={"start": to_millisecond(now + parsed.length)})
    _check_end(parsed.start, parsed.end, "interval")
    impl = IntervalTrigger(
        weeks=parsed.weeks,
        days=parsed.days,
        hours=parsed.hours,
        minutes=parsed.minutes,
        seconds=parsed.seconds,
        start_date=parsed.start,
        end_date=parsed.end,
        timezone=UTC,
    )
    return Trigger("interval", parsed, impl)


def _check_interval(parsed: IntervalSpec) -> None:
    seconds = (
        parsed.weeks * 604800
        + parsed.days * 86400
        + parsed.hours * 3600
        + parsed.minutes * 60
        + parsed.seconds
    )
    if not MIN_INTERVAL.total_seconds() <= seconds <= _SPAN_S:
        raise InvalidTriggerError(
            f"must be from {MIN_INTERVAL.total_seconds():g} seconds to {MAX_SPAN.days} days",
            field="trigger.interval",
        )
    if parsed.jitter is not None and parsed.jitter > seconds:
        raise InvalidTriggerError(
            "must not be longer than the interval", field="trigger.interval.jitter"
        )


def _cron(spec: Mapping[str, Any]) -> Trigger:
    _only_keys(spec, {"cron", "timezone", "jitter", "start", "end"})
    parsed = CronSpec.model_validate(dict(spec))
    zone = _zone(parsed.timezone, "trigger.timezone")
    fields = parsed.cron.split()
    if len(fields) not in (5, 6):
        raise InvalidTriggerError(f"needs 5 or 6 fields, got {len(fields)}", field="trigger.cron")
    if len(fields) == 5:
        fields.insert(0, "0")
    names = ("second", "minute", "hour", "day", "month", "day_of_week")
    values = dict(zip(names, fields, strict=True))
    values["day_of_week"] = _crontab_weekdays(values["day_of_week"])
    try:
        impl = CronTrigger(**values, start_date=parsed.start, end_date=parsed.end, timezone=zone)
    except ValueError as exc:
        raise InvalidTriggerError(str(exc), field="trigger.cron") from None
    fixed_hour = not values["hour"].startswith("*")
    return _CronTrigger("cron", parsed, impl, zone=zone, fixed_hour=fixed_hour)


class _CronTrigger(Trigger):
    """Cron with one rule added to APScheduler 3's arithmetic, as classic cron has it.

    When clocks go back, a wall-clock time occurs twice. APScheduler fires at both; for
    an expression with a fixed hour (a daily 02:30) that runs the job twice in one day,
    so the second occurrence is skipped. An expression whose hour is a wildcard
    (``0 * * * *``) keeps both: it means "every hour", and both are an hour apart.
    """

    def __init__(
        self,
        kind: TriggerKind,
        spec: _Spec,
        impl: BaseTrigger,
        *,
        zone: ZoneInfo,
        fixed_hour: bool,
    ) -> None:
        super().__init__(kind, spec, impl)
        self._zone = zone
        self._fixed_hour = fixed_hour

    def _accept(self, candidate: datetime) -> bool:
        return not (self._fixed_hour and candidate.astimezone(self._zone).fold == 1)


def _date(spec: Mapping[str, Any]) -> Trigger:
    _only_keys(spec, {"date"})
    value = spec["date"]
    parsed = DateSpec.model_validate({"date": value})
    return Trigger("date", parsed, DateTrigger(run_date=parsed.date, timezone=UTC))


def _calendar(spec: Mapping[str, Any], now: datetime) -> Trigger:
    parsed = CalendarSpec.model_validate(_object_body(spec, "calendar"))
    zone = _zone(parsed.timezone, "trigger.calendar.timezone")
    if parsed.years == parsed.months == parsed.weeks == parsed.days == 0:
        raise InvalidTriggerError(
            "one of years, months, weeks, days must be set", field="trigger.calendar"
        )
    if parsed.start is None:
        parsed = parsed.model_copy(update={"start": now.astimezone(zone).date()})
    _check_end(parsed.start, parsed.end, "calendar")
    impl = CalendarIntervalTrigger(
        years=parsed.years,
        months=parsed.months,
        weeks=parsed.weeks,
        days=parsed.days,
        hour=parsed.hour,
        minute=parsed.minute,
        second=parsed.second,
        start_date=parsed.start,
        end_date=parsed.end,
        timezone=zone,
    )
    return _CalendarTrigger("calendar", parsed, impl)  # impl: kept for its validation


class _CalendarTrigger(Trigger):
    """A calendar interval: the day steps as APScheduler 3's ``CalendarIntervalTrigger``
    takes them (a month step from the 31st goes on to the next month that has one),
    with one difference. On the day clocks go forward, a wall-clock time that does not
    exist fires at the first valid time after it, as cron does; APScheduler skips that
    day, so a daily 02:30 in Europe/Brussels would not run on 2027-03-28.
    """

    def __init__(self, kind: TriggerKind, spec: CalendarSpec, impl: BaseTrigger) -> None:
        super().__init__(kind, spec, impl)
        self._cal = spec
        self._zone = ZoneInfo(spec.timezone)
        self._time = time(spec.hour, spec.minute, spec.second)

    def first_fire(self, now: datetime) -> datetime | None:
        fire = self._on(self._cal.start) if self._cal.start else None
        while fire is not None and fire < now:
            fire = self.next_after(fire)
        return fire

    def _raw_next(self, previous: datetime) -> datetime | None:
        day = self._step(previous.astimezone(self._zone).date())
        return None if day is None else self._on(day)

    def _step(self, day: date) -> date | None:
        spec = self._cal
        year, month = day.year, day.month
        while year <= LATEST.year:
            month += spec.months
            year += spec.years + (month - 1) // 12
            month = (month - 1) % 12 + 1
            try:
                landed = date(year, month, day.day)
            except ValueError:
                continue  # no such day in that month: the next step that has one
            return landed + timedelta(days=spec.days + spec.weeks * 7)
        return None

    def _on(self, day: date) -> datetime | None:
        if self._cal.end is not None and day > self._cal.end:
            return None
        # fold=0 reads a time in the spring-forward gap with the offset before it:
        # 02:30 that does not exist becomes 03:30, the first valid time after it.
        local = datetime.combine(day, self._time, tzinfo=self._zone)
        return local.astimezone(UTC)


def _object_body(spec: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """The JSON object under ``kind``, the spec's only key."""
    _only_keys(spec, {kind})
    body = spec[kind]
    if not isinstance(body, Mapping):
        raise InvalidTriggerError("must be a JSON object", field=f"trigger.{kind}")
    return body


def _check_end(start: Any, end: Any, kind: str) -> None:
    if end is not None and start is not None and end < start:
        raise InvalidTriggerError("must not be before start", field=f"trigger.{kind}.end")


def _only_keys(spec: Mapping[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(spec) - allowed)
    if extra:
        raise InvalidTriggerError("unknown key", field=f"trigger.{extra[0]}")


# Zone files whose meaning depends on the host: fire times must be the same on every node.
_HOST_ZONES = frozenset({"localtime", "posixrules"})


def _zone(name: str, field: str) -> ZoneInfo:
    if name in _HOST_ZONES or text_problem(name) is not None:
        raise InvalidTriggerError(
            "must be an IANA time zone name (e.g. Europe/Brussels)", field=field
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTriggerError(f"unknown time zone {name!r}", field=field) from None


_CRONTAB_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_weekdays(field: str) -> str:
    """Translate a crontab day-of-week field (0/7 = Sunday) into APScheduler 3's names."""
    if field == "*" or not re.search(r"\d", field):
        return field
    days: set[int] = set()
    for part in field.split(","):
        days |= _weekday_part(part)
    return ",".join(_CRONTAB_DAYS[d] for d in sorted(days))


def _weekday_part(part: str) -> set[int]:
    match = re.fullmatch(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?", part)
    if not match:
        raise InvalidTriggerError(f"cannot read day of week {part!r}", field="trigger.cron")
    first, last, step = match.groups()
    if first == "*":
        low, high = 0, 6
    else:
        low = int(first)
        high = int(last) if last else (6 if step else low)
    if not (0 <= low <= 7 and 0 <= high <= 7) or low > high or step == "0":
        raise InvalidTriggerError(f"day of week {part!r} is out of range", field="trigger.cron")
    return {d % 7 for d in range(low, high + 1, int(step or 1))}


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str, *, field: str | None = None) -> timedelta:
    """Read ``30s``, ``5m``, ``1h30m``, ``2d``, ``250ms`` or plain seconds into a timedelta,
    at most ten years (:data:`MAX_SPAN`).

    ``field`` names where the text came from (``--timeout``); the error names it.
    """
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        seconds = float(cleaned)
    else:
        pos, seconds = 0, 0.0
        for match in _DURATION.finditer(cleaned):
            if cleaned[pos : match.start()].strip():
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos == 0 or cleaned[pos:].strip():
            raise InvalidTriggerError(
                f"cannot read {text!r} as a duration (try 30s, 5m, 1h30m)", field=field
            )
    if seconds <= 0:
        raise InvalidTriggerError("must be longer than zero", field=field)
    if seconds > _SPAN_S:
        raise InvalidTriggerError(f"must be at most {MAX_SPAN.days} days", field=field)
    return timedelta(seconds=seconds)


class TriggerCache:
    """The one place a stored schedule's trigger is parsed: ``trigger_of(schedule)``.

    Used by the fire planner, the application facade and resume alike. A store hands out
    the same trigger dict each time it decodes a schedule it decoded before: known by
    identity, it needs no JSON key; otherwise the spec's JSON and the schedule's creation
    time (the anchor of an interval without ``start``) find the parsed trigger.
    """

    def __init__(self, size: int = 4096) -> None:
        self._seen: IdentityCache[dict[str, Any], tuple[datetime, Trigger]] = IdentityCache(size)
        self._by_json: dict[tuple[str, datetime], Trigger] = {}
        self._size = size

    def trigger_of(self, schedule: Schedule) -> Trigger:
        """The parsed trigger of a stored schedule; raises :class:`InvalidTriggerError`
        for a spec that no longer parses."""
        spec = schedule.trigger
        seen = self._seen.find(spec)
        if seen is not None and seen[0] == schedule.created_at:
            return seen[1]
        key = (json.dumps(spec, sort_keys=True, separators=(",", ":")), schedule.created_at)
        trigger = self._by_json.get(key)
        if trigger is None:
            if len(self._by_json) >= self._size:
                self._by_json.clear()
            trigger = self._by_json[key] = parse_trigger(spec, now=schedule.created_at)
        self._seen.put(spec, (schedule.created_at, trigger))
        return trigger
