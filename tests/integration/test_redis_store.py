"""Redis-only behaviour, on the session's real redis-server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from baton.node import FirePlanner
from baton.store.redis import RedisStore
from tests.conftest import Clock
from tests.contract.helpers import schedule


async def test_a_schedule_that_cannot_be_read_does_not_stop_the_others(
    redis_url: str, clock: Clock
) -> None:
    async with RedisStore(redis_url, clock=clock) as writer:
        await writer.add_schedule(schedule("healthy", clock.now, type="noop"))
        await writer.add_schedule(schedule("broken", clock.now, type="other"))
        prefix = writer.prefix
    client = redis.Redis.from_url(redis_url.split("?")[0], decode_responses=True)
    shapes = client.hgetall(prefix + "shapes")
    (broken_shape,) = [k for k, v in shapes.items() if '"t":"other"' in v]
    client.hdel(prefix + "shapes", broken_shape)  # an operator's mistake
    async with RedisStore(redis_url, clock=clock) as node:  # no shape cached here
        fired = await node.fire_due(limit=10, planner=FirePlanner())
        assert [r.schedule_id for r in fired.created] == ["healthy"]
        assert await node.next_fire_time() == clock.now + timedelta(seconds=60)
    bucket_keys = [k for k in client.scan_iter(prefix + "s:*") if client.hexists(k, "broken")]
    assert bucket_keys, "the unreadable schedule is still stored"
    due = [client.zscore(k.replace(":s:", ":d:"), "broken") for k in bucket_keys]
    assert due[0] == (clock.now + timedelta(hours=1)).timestamp() * 1_000_000


async def test_added_schedules_are_returned_as_they_read_back(redis_url: str) -> None:
    """Redis keeps created/updated/last fire to the millisecond and an interval's start
    in UTC ``Z`` form; what a bulk add returns must already be in that form."""
    now = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
    start = now + timedelta(seconds=5, microseconds=7)
    written = schedule(
        "precise", now, trigger={"interval": {"seconds": 5, "start": start.isoformat()}}
    )
    written = written.model_copy(
        update={
            "updated_at": now + timedelta(microseconds=2500),
            "last_fire_at": now - timedelta(microseconds=999),
            "payload": {"n": 1, "nested": {"a": [1, 2]}},
        }
    )
    async with RedisStore(redis_url) as store:
        (added,) = await store.add_schedules([written])
        assert added == await store.get_schedule("precise")
        assert added.created_at == now.replace(microsecond=123000)
        assert added.trigger["interval"]["start"] == "2026-11-27T10:00:05.123463Z"


async def test_bulk_steps_reload_scripts_redis_has_forgotten(redis_url: str, clock: Clock) -> None:
    """After a Redis restart (or SCRIPT FLUSH) the scripts are gone; the pipelined bulk
    add and fire send them again instead of failing."""
    client = redis.Redis.from_url(redis_url.split("?")[0])
    async with RedisStore(redis_url, clock=clock) as store:
        await store.add_schedules([schedule(f"a{i}", clock.now) for i in range(10)])
        client.script_flush()
        added = await store.add_schedules([schedule(f"b{i}", clock.now) for i in range(600)])
        assert len(added) == 600
        client.script_flush()
        fired = await store.fire_due(limit=1000, planner=FirePlanner())
        assert len(fired.created) == 610


async def test_the_script_conveyor_keeps_replies_in_order_and_its_connection_clean(
    redis_url: str, clock: Clock
) -> None:
    async with RedisStore(redis_url, clock=clock) as store:
        await store.add_schedule(schedule("a", clock.now))
        async with store._conveyor() as conveyor:
            await conveyor.send("due", store._args(0, 10))
            await conveyor.send("due", store._args(0, "not a number"))  # fails in Lua
            await conveyor.send("due", store._args(0, 10))
            first, failed, last = await conveyor.replies()
        assert first[1] == "a" and last[1] == "a"
        assert isinstance(failed, redis.exceptions.ResponseError)
        # Left with a reply unread: the connection is dropped, not handed to the next
        # caller with someone else's reply waiting on it.
        async with store._conveyor() as conveyor:
            await conveyor.send("due", store._args(0, 10))
        for _ in range(5):
            assert await store.get_schedule("a") is not None
            assert await store.next_fire_time() == clock.now
