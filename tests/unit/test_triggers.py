"""Trigger specs: parsing, errors that name the field, and the arithmetic's properties."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baton.errors import InvalidTriggerError
from baton.triggers import parse_duration, parse_trigger

BRUSSELS = ZoneInfo("Europe/Brussels")
ZONES = ["UTC", "Europe/Brussels", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)

moments = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
cron_minute = st.sampled_from(["*", "0", "*/5", "15,45", "59", "0-10/3"])
cron_hour = st.sampled_from(["*", "2", "*/3", "0-6", "23", "1,2,3"])
cron_dow = st.sampled_from(["*", "0", "1-5", "6,0", "*/2", "7"])


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.floats(min_value=0.5, max_value=3e6),
    start=moments,
    previous=moments,
)
def test_interval_next_fire_is_strictly_after_the_previous(
    seconds: float, start: datetime, previous: datetime
) -> None:
    trigger = parse_trigger({"interval": {"seconds": seconds, "start": start.isoformat()}})
    following = trigger.next_after(previous)
    assert following is not None and following > previous


@settings(max_examples=300, deadline=None)
@given(
    minute=cron_minute,
    hour=cron_hour,
    dow=cron_dow,
    zone=st.sampled_from(ZONES),
    previous=moments,
)
def test_cron_next_fire_is_strictly_after_the_previous(
    minute: str, hour: str, dow: str, zone: str, previous: datetime
) -> None:
    trigger = parse_trigger({"cron": f"{minute} {hour} * * {dow}", "timezone": zone})
    following = trigger.next_after(previous)
    assert following is not None and following > previous
    assert following.tzinfo is not None and following.utcoffset() == timedelta(0)


@settings(max_examples=100, deadline=None)
@given(
    months=st.integers(1, 14),
    days=st.integers(0, 40),
    hour=st.integers(0, 23),
    zone=st.sampled_from(ZONES),
    previous=moments,
)
def test_calendar_next_fire_is_strictly_after_the_previous(
    months: int, days: int, hour: int, zone: str, previous: datetime
) -> None:
    spec = {
        "calendar": {
            "months": months,
            "days": days,
            "hour": hour,
            "timezone": zone,
            "start": "2020-01-01",
        }
    }
    trigger = parse_trigger(spec)
    following = trigger.next_after(previous)
    assert following is not None and following > previous


def _walk(spec: dict[str, object], start: datetime, count: int) -> list[datetime]:
    trigger = parse_trigger(spec)
    fire = trigger.first_fire(start)
    out = []
    for _ in range(count):
        assert fire is not None
        out.append(fire)
        fire = trigger.next_after(fire)
    return out


def test_hourly_cron_keeps_one_fire_per_real_hour_across_both_brussels_dst_changes() -> None:
    spec = {"cron": "0 * * * *", "timezone": "Europe/Brussels"}
    for day in (datetime(2026, 3, 28, 22, tzinfo=UTC), datetime(2026, 10, 24, 22, tzinfo=UTC)):
        fires = _walk(spec, day, 8)
        assert {b - a for a, b in itertools.pairwise(fires)} == {timedelta(hours=1)}


def test_daily_cron_in_the_dst_gap_runs_once_at_the_first_valid_time() -> None:
    spec = {"cron": "30 2 * * *", "timezone": "Europe/Brussels"}
    fires = [f.astimezone(BRUSSELS) for f in _walk(spec, datetime(2026, 3, 27, tzinfo=UTC), 4)]
    assert [(f.day, f.hour, f.minute) for f in fires] == [
        (27, 2, 30),
        (28, 2, 30),
        (29, 3, 30),
        (30, 2, 30),
    ]


def test_daily_cron_in_the_repeated_hour_runs_once_not_twice() -> None:
    spec = {"cron": "30 2 * * *", "timezone": "Europe/Brussels"}
    fires = [f.astimezone(BRUSSELS) for f in _walk(spec, datetime(2026, 10, 24, tzinfo=UTC), 3)]
    assert [f.day for f in fires] == [24, 25, 26]


def test_crontab_weekday_numbers_mean_sunday_at_0_and_7() -> None:
    for dow in ("0", "7"):
        (fire,) = _walk({"cron": f"0 9 * * {dow}"}, NOW, 1)
        assert fire.weekday() == 6  # Sunday
    weekdays = _walk({"cron": "0 9 * * 1-5"}, NOW, 10)
    assert {f.weekday() for f in weekdays} == {0, 1, 2, 3, 4}


def test_six_field_cron_has_seconds_first() -> None:
    fires = _walk({"cron": "*/15 * * * * *"}, NOW, 3)
    assert [f.second for f in fires] == [0, 15, 30]


def test_interval_without_start_is_anchored_one_interval_after_now() -> None:
    trigger = parse_trigger({"interval": {"minutes": 5}}, now=NOW)
    assert trigger.to_json() == {"interval": {"minutes": 5.0, "start": "2026-11-27T10:05:00Z"}}
    assert trigger.first_fire(NOW) == NOW + timedelta(minutes=5)


def test_date_trigger_fires_once() -> None:
    trigger = parse_trigger({"date": "2026-12-01T10:00:00+01:00"})
    first = trigger.first_fire(NOW)
    assert first == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert trigger.next_after(first) is None


def test_jitter_delays_only_the_due_time() -> None:
    trigger = parse_trigger({"interval": {"seconds": 60, "jitter": 10}}, now=NOW)
    fire = trigger.first_fire(NOW)
    assert fire is not None
    dues = {trigger.due_at(fire) for _ in range(50)}
    assert all(fire <= due <= fire + timedelta(seconds=10) for due in dues)
    assert len(dues) > 1
    assert trigger.next_after(fire) == fire + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ("every 5 minutes", "trigger"),
        ({}, "trigger"),
        ({"interval": {"seconds": 1}, "cron": "* * * * *"}, "trigger"),
        ({"interval": {"seconds": 0}}, "trigger.interval"),
        ({"interval": {"seconds": -5}}, "trigger.interval.seconds"),
        ({"interval": {"secs": 5}}, "trigger.interval.secs"),
        ({"interval": {"seconds": 5, "start": "2026-01-01T00:00:00"}}, "trigger.interval.start"),
        (
            {
                "interval": {
                    "seconds": 5,
                    "start": "2026-02-01T00:00:00Z",
                    "end": "2026-01-01T00:00:00Z",
                }
            },
            "trigger.interval.end",
        ),
        ({"cron": "* * *"}, "trigger.cron"),
        ({"cron": "99 * * * *"}, "trigger.cron"),
        ({"cron": "* * * * 9"}, "trigger.cron"),
        ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "trigger.timezone"),
        ({"cron": "* * * * *", "tz": "UTC"}, "trigger.tz"),
        ({"date": "2026-11-27T10:00:00"}, "trigger.date"),
        ({"date": "tomorrow"}, "trigger.date"),
        ({"calendar": {"hour": 3}}, "trigger.calendar"),
        ({"calendar": {"months": 1, "hour": 25}}, "trigger.calendar.hour"),
    ],
)
def test_invalid_specs_are_rejected_with_the_field_named(spec: object, field: str) -> None:
    with pytest.raises(InvalidTriggerError) as caught:
        parse_trigger(spec)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ": ")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25), ("45", 45)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "5q", "m5", "0s", "5m extra", "-3s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidTriggerError):
        parse_duration(text)


def test_a_daily_calendar_time_in_the_spring_forward_gap_runs_at_the_first_valid_time() -> None:
    brussels = ZoneInfo("Europe/Brussels")
    daily = {"days": 1, "hour": 2, "minute": 30, "timezone": "Europe/Brussels"}
    start = datetime(2027, 3, 26, tzinfo=UTC)
    trigger = parse_trigger({"calendar": {**daily, "start": "2027-03-26"}}, now=start)
    fires = [trigger.first_fire(start)]
    for _ in range(3):
        fires.append(trigger.next_after(fires[-1]))  # type: ignore[arg-type]
    local = [f.astimezone(brussels).strftime("%m-%d %H:%M") for f in fires if f is not None]
    assert local == ["03-26 02:30", "03-27 02:30", "03-28 03:30", "03-29 02:30"]


def test_an_after_trigger_names_its_parents_and_has_no_fire_times() -> None:
    trigger = parse_trigger({"after": {"schedules": ["a", "b"], "rule": "all_done"}})
    assert trigger.kind == "after" and trigger.after is not None
    assert trigger.after.schedules == ("a", "b")
    assert trigger.to_json() == {
        "after": {"schedules": ["a", "b"], "rule": "all_done", "timeout": 300.0}
    }
    assert trigger.first_fire(NOW) is None and trigger.next_after(NOW) is None
    assert parse_trigger(trigger.to_json()).to_json() == trigger.to_json()
    assert parse_trigger({"cron": "* * * * *"}).after is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"schedules": []}, "trigger.after.schedules"),
        ({"schedules": ["a", "a"]}, "trigger.after.schedules"),
        ({"schedules": ["a b"]}, "trigger.after.schedules"),
        ({"schedules": ["a"], "rule": "any"}, "trigger.after.rule"),
        ({"schedules": ["a"], "timeout": 0}, "trigger.after.timeout"),
        ({"schedules": ["a"], "when": 1}, "trigger.after.when"),
        (["a"], "trigger.after"),
    ],
)
def test_a_bad_after_trigger_names_the_field(body: object, field: str) -> None:
    with pytest.raises(InvalidTriggerError) as caught:
        parse_trigger({"after": body})
    assert caught.value.field == field


def test_has_tick_tells_fire_times_apart() -> None:
    every_second = parse_trigger({"cron": "* * * * * *"})
    every_other = parse_trigger({"interval": {"seconds": 2, "start": NOW.isoformat()}})
    assert every_second.has_tick(NOW) and every_other.has_tick(NOW)
    later = NOW + timedelta(seconds=1)
    assert every_second.has_tick(later) and not every_other.has_tick(later)
    assert not every_second.has_tick(NOW + timedelta(milliseconds=500))
