"""Row conversions of the SQL stores round-trip every field."""

from __future__ import annotations

from datetime import timedelta

from baton.model import Policy, RetryPolicy, Run, RunError, RunState, utcnow
from baton.store import _sql


class _Row:
    def __init__(self, mapping: dict[str, object]) -> None:
        self._mapping = mapping


def test_a_run_survives_a_round_trip_through_a_row() -> None:
    now = utcnow()
    run = Run(
        id="s@1",
        schedule_id="s",
        type="t",
        payload={"k": [1, "x"]},
        fire_at=now,
        due_at=now + timedelta(seconds=1),
        attempt=2,
        policy=Policy(priority=3, retry=RetryPolicy(max_attempts=4)),
        state=RunState.RUNNING,
        owner="n",
        lease_token="tok",
        lease_expires_at=now,
        cancel_requested=True,
        created_at=now,
        started_at=now,
        finished_at=None,
        error=RunError(type="E", message="m", trace="t"),
        note="why",
    )
    assert _sql.run_from_row(_Row(_sql.run_row(run))) == run


def test_the_change_columns_are_exactly_the_mutable_ones() -> None:
    now = utcnow()
    run = Run(id="a", schedule_id=None, type="t", fire_at=now, due_at=now, created_at=now)
    names = {key.removeprefix("b_") for key in _sql.run_changes(run)} - {"id"}
    assert names == set(_sql.RUN_MUTABLE)
