"""The limits every edge shares: the id grammar, strict JSON, times, trigger and policy bounds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from baton import Baton, Policy
from baton._input import check_json, id_problem, loads_strict
from baton.errors import (
    ConflictError,
    InvalidInputError,
    InvalidPolicyError,
    InvalidTriggerError,
)
from baton.jobs import Registry
from baton.model import RetryPolicy, Run, RunError
from baton.redaction import Redactor
from baton.store.memory import MemoryStore
from baton.triggers import parse_duration, parse_trigger
from tests.conftest import Clock
from tests.jobs_for_tests import ALL_JOBS

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        "a/b",
        "",
        "x" * 201,
        "a b",
        "tab\there",
        "rtl\u202eevil",
        "zero\u200bwidth",
        "\ud800",
        "nul\x00",
        "bom\ufeff",
        "nbsp\u00a0",
        "private\ue000",
    ],
)
def test_the_id_grammar_refuses(value: str) -> None:
    assert id_problem(value) is not None


@pytest.mark.parametrize("value", ["w:1", "worker-metrics:i-0abc", "mk[", "né:ü", "a@b", "x" * 200])
def test_the_id_grammar_accepts(value: str) -> None:
    assert id_problem(value) is None


@given(st.text(max_size=60))
def test_an_accepted_id_is_printable_utf8_without_slash(value: str) -> None:
    if id_problem(value) is None:
        assert value.isprintable() and "/" not in value and " " not in value
        value.encode("utf-8")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"x": NaN}', "NaN is not JSON"),
        ('{"x": Infinity}', "Infinity is not JSON"),
        ('{"x": -Infinity}', "-Infinity is not JSON"),
        ("[" * 5000 + "]" * 5000, "nests deeper than 32"),
        ("[" * 40 + "]" * 40, "nests deeper than 32"),
        ('{"x": "\\ud800"}', "lone surrogate"),
        ('{"x": 1e400}', "finite"),
        ("{", "not valid JSON"),
    ],
)
def test_strict_json_refuses_what_readers_reject(text: str, reason: str) -> None:
    with pytest.raises(InvalidInputError, match=reason) as caught:
        loads_strict(text, "payload")
    assert caught.value.field is not None and caught.value.field.startswith("payload")


def test_strict_json_names_the_path_to_the_bad_value() -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_json({"a": [1, {"b": float("nan")}]}, "payload")
    assert caught.value.field == "payload.a[1].b"


def test_strict_json_accepts_32_levels() -> None:
    assert loads_strict("[" * 32 + "]" * 32, "body") is not None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"interval": {"seconds": 1e300}}, "trigger.interval.seconds"),
        ({"interval": {"seconds": float("inf")}}, "trigger.interval.seconds"),
        ({"interval": {"seconds": float("nan")}}, "trigger.interval.seconds"),
        ({"interval": {"weeks": 1e6}}, "trigger.interval.weeks"),
        ({"interval": {"seconds": 0.0001}}, "trigger.interval"),
        ({"interval": {"days": 3000, "weeks": 100}}, "trigger.interval"),
        ({"interval": {"seconds": 1, "jitter": 1e300}}, "trigger.interval.jitter"),
        ({"interval": {"seconds": 1, "jitter": 8.64e9}}, "trigger.interval.jitter"),
        ({"interval": {"seconds": 60, "jitter": 61}}, "trigger.interval.jitter"),
        ({"calendar": {"years": 100000}}, "trigger.calendar.years"),
        ({"calendar": {"days": 1, "start": "0001-01-01"}}, "trigger.calendar.start"),
        ({"date": "0001-01-01T00:00:00+14:00"}, "trigger.date"),
        ({"date": "9999-12-31T23:00:00-05:00"}, "trigger.date"),
        (
            {"interval": {"seconds": 1, "start": "9999-12-31T23:00:00-05:00"}},
            "trigger.interval.start",
        ),
        ({"cron": "* * * * *", "jitter": 1e300}, "trigger.jitter"),
        ({"cron": "* * * * *", "timezone": "localtime"}, "trigger.timezone"),
        ({"cron": "* * * * *", "timezone": "\ud800"}, "trigger.timezone"),
        ({"cron": "* * * * *\ud800"}, "trigger.cron"),
        ({"cron": "* " * 200}, "trigger.cron"),
    ],
)
def test_trigger_bounds_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidTriggerError) as caught:
        parse_trigger(spec, now=NOW)
    assert caught.value.field == field


def test_the_longest_interval_and_the_latest_start_still_compute_their_next_fire() -> None:
    trigger = parse_trigger({"interval": {"days": 3653, "start": "8999-12-31T00:00:00Z"}}, now=NOW)
    first = trigger.first_fire(NOW)
    assert first is not None and trigger.next_after(first) is not None


@pytest.mark.parametrize("text", ["99999999999999w", "9" * 400, "3654d"])
def test_a_duration_longer_than_ten_years_is_refused_naming_the_flag(text: str) -> None:
    with pytest.raises(InvalidTriggerError) as caught:
        parse_duration(text, field="jitter")
    assert caught.value.field == "jitter"


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"timeout": 31 * 86400}, "policy.timeout"),
        ({"misfire_grace": 1e12}, "policy.misfire_grace"),
        ({"retry": {"backoff": 99999999999999}}, "policy.retry.backoff"),
        ({"retry": {"backoff_max": float("inf")}}, "policy.retry.backoff_max"),
        ({"retry": {"jitter": float("nan")}}, "policy.retry.jitter"),
        ({"priority": 10**30}, "policy.priority"),
        ({"max_concurrent": 10**30}, "policy.max_concurrent"),
        ({"breaker": {"key": "aws:\x00"}}, "policy.breaker.key"),
        ({"breaker": {"key": "aws:\ud800"}}, "policy.breaker.key"),
    ],
)
async def test_policy_bounds_name_the_field(policy: dict[str, Any], field: str) -> None:

    async with Baton(store="memory://", jobs=ALL_JOBS) as baton:
        with pytest.raises(InvalidPolicyError) as caught:
            await baton.add(
                "record",
                id="p",
                payload={"label": "x"},
                trigger={"interval": {"seconds": 60}},
                policy=policy,
            )
        assert caught.value.field == field
        assert (await baton.list()).items == []


def test_a_late_attempt_waits_the_backoff_cap_instead_of_overflowing() -> None:
    retry = RetryPolicy(
        max_attempts=1000, backoff=timedelta(days=1), backoff_max=timedelta(days=30), jitter=0
    )
    assert retry.delay(999) == timedelta(days=30)
    assert retry.delay(10**6) == timedelta(days=30)
    assert retry.delay(3) == timedelta(days=4)
    assert Policy().retry.delay(1) >= timedelta(seconds=1)


def _run(type_name: str, payload: dict[str, Any], message: str) -> Run:
    return Run(
        id="r",
        schedule_id=None,
        type=type_name,
        payload=payload,
        fire_at=NOW,
        due_at=NOW,
        created_at=NOW,
        lease_token="token-1",
        error=RunError(type="ValueError", message=message, trace=f"Traceback\n{message}"),
        note=f"stopped: {message}",
    )


def test_a_type_this_process_does_not_know_shows_no_payload_value() -> None:

    redactor = Redactor(Registry())
    run = redactor.run(
        _run(
            "notify",
            {"url": "https://h", "api_key": "SUPERSECRETVALUE42"},
            "key SUPERSECRETVALUE42 refused",
        )
    )
    shown = json.dumps(run.model_dump(mode="json"))
    assert "SUPERSECRETVALUE42" not in shown
    assert run.payload == {"url": "***", "api_key": "***"} and run.lease_token is None


def test_known_secret_values_are_replaced_in_error_texts_which_are_bounded() -> None:

    redactor = Redactor(Registry(ALL_JOBS))
    message = "auth failed for SUPERSECRETVALUE42 " + "x" * 10_000
    run = redactor.run(
        _run("notify", {"url": "https://h", "api_key": "SUPERSECRETVALUE42"}, message)
    )
    assert run.payload == {"url": "https://h", "api_key": "***"}
    assert run.error is not None and "SUPERSECRETVALUE42" not in run.error.message + run.error.trace
    assert len(run.error.message) <= 2000 and len(run.error.trace) <= 4000
    assert run.note is not None and "SUPERSECRETVALUE42" not in run.note
    plain = redactor.run(_run("notify", {"url": "https://h", "api_key": "k" * 8}, "at https://h"))
    assert plain.error is not None and plain.error.message == "at https://h"  # not a secret


def test_show_secrets_shows_them_but_never_the_lease_token() -> None:

    run = Redactor(Registry(), show_secrets=True).run(_run("notify", {"api_key": "s3cr3t!"}, "m"))
    assert run.payload == {"api_key": "s3cr3t!"} and run.lease_token is None


async def test_the_poison_schedule_is_refused_by_the_python_api_single_and_bulk() -> None:

    poison = {"interval": {"seconds": 1, "jitter": 1e300}}
    async with Baton(store="memory://", jobs=ALL_JOBS) as baton:
        with pytest.raises(InvalidTriggerError, match="jitter"):
            await baton.add("record", id="poison", payload={"label": "x"}, trigger=poison)
        entries = [
            {
                "job": "record",
                "id": "ok",
                "payload": {"label": "x"},
                "trigger": {"interval": {"seconds": 1}},
            },
            {"job": "record", "id": "poison", "payload": {"label": "x"}, "trigger": poison},
        ]
        with pytest.raises(InvalidTriggerError) as caught:
            await baton.add_many(entries)
        assert caught.value.field == "schedules[1].trigger.interval.jitter"
        assert (await baton.list()).items == []


async def test_resume_refuses_a_one_off_whose_time_passed_beyond_its_grace() -> None:

    clock = Clock(NOW)
    async with Baton(store=MemoryStore(clock=clock), jobs=ALL_JOBS) as baton:
        at = {"date": (NOW + timedelta(seconds=10)).isoformat()}
        await baton.add("record", id="once", payload={"label": "x"}, trigger=at, paused=True)
        await baton.add(
            "record",
            id="late-ok",
            payload={"label": "x"},
            trigger=at,
            paused=True,
            policy={"misfire_grace": None},
        )
        clock.advance(10 + 61)
        with pytest.raises(ConflictError, match="misfire grace"):
            await baton.resume("once")
        assert (await baton.get("once")).state.value == "paused"
        resumed = await baton.resume("late-ok")  # however late: it may still run
        assert resumed.state.value == "active"
