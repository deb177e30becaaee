"""A run id a caller chooses can never take the place of a fire's run (on every store).

Fires have ``<schedule id>@<fire time>``; chosen ids live apart, as
``<schedule id>@manual:<key>`` and ``<type>@once:<key>``, and a key has no ``@``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from baton import Baton
from baton._input import id_problem
from baton.errors import InvalidInputError
from baton.model import run_id_for_fire, utc_iso
from baton.node import FirePlanner
from baton.store.base import Store
from tests.conftest import Clock
from tests.jobs_for_tests import ALL_JOBS


async def test_a_chosen_id_never_suppresses_another_schedules_fire(
    store: Store, clock: Clock
) -> None:
    baton = Baton(store=store, jobs=ALL_JOBS)  # the store is open already
    every = {"interval": {"seconds": 60}}
    await baton.add("record", id="a", payload={"label": "a"}, trigger=every)
    victim = await baton.add("record", id="c", payload={"label": "c"}, trigger=every)
    assert victim.next_fire_at is not None
    fire_id = run_id_for_fire("c", victim.next_fire_at)

    for key in (fire_id, f"x@{utc_iso(victim.next_fire_at)}"):
        with pytest.raises(InvalidInputError) as refused:
            await baton.trigger("a", key=key)
        assert refused.value.field == "key"
        with pytest.raises(InvalidInputError):
            await baton.enqueue("record", key=key, payload={"label": "x"})
    manual = await baton.trigger("a", key="c")
    once = await baton.enqueue("record", key="c", payload={"label": "x"})
    assert (manual.id, once.id) == ("a@manual:c", "record@once:c")
    timed = await baton.trigger("c", key=utc_iso(victim.next_fire_at))
    assert timed.id == f"c@manual:{utc_iso(victim.next_fire_at)}" != fire_id

    clock.advance(60)
    fired = await store.fire_due(limit=100, planner=FirePlanner())
    assert fire_id in {r.id for r in fired.created}
    run = await store.get_run(fire_id)
    assert run is not None and run.schedule_id == "c" and run.payload == {"label": "c"}
    assert await store.get_schedule("c") is not None


async def test_a_repeated_key_returns_the_first_run(store: Store, clock: Clock) -> None:
    baton = Baton(store=store, jobs=ALL_JOBS)
    await baton.add("record", id="a", payload={"label": "a"}, trigger={"interval": {"seconds": 60}})
    first = await baton.trigger("a", key="req-1")
    clock.advance(1)
    again = await baton.trigger("a", key="req-1")
    assert again.id == first.id and again.created_at == first.created_at
    page = await baton.runs(schedule_id="a")
    assert [r.id for r in page.items] == ["a@manual:req-1"]


_ids = st.text(min_size=1, max_size=30).filter(lambda v: id_problem(v) is None)
_keys = _ids.filter(lambda v: "@" not in v and len(v) <= 100)
_times = st.datetimes(timezones=st.just(UTC))


@given(schedule=_ids, other=_ids, key=_keys, fire=_times)
def test_no_chosen_id_equals_any_fire_id(
    schedule: str, other: str, key: str, fire: datetime
) -> None:
    fire_id = run_id_for_fire(schedule, fire)
    assert fire_id not in (f"{other}@manual:{key}", f"{other}@once:{key}")
