"""The Redis store: many nodes on many hosts, every multi-key step one Lua script.

Keys, under a prefix (default ``baton:``)::

    meta          HASH   schema name and version
    shapes        HASH   shape id -> {type, trigger without anchor, policy} (shared)
    s:<b>, m:<b>  HASH   schedule id -> definition, -> state (see _redis_codec.py)
    d:<b>         ZSET   active schedule id -> next fire time (us), bucket b of 1024
    due           ZSET   bucket b -> the earliest next fire time in d:<b>
    r:<run id>    HASH   one run's fields (see ``_redis_codec.run_fields``)
    runs          ZSET   run id -> creation sequence (history, newest last)
    seq           STRING the creation sequence counter
    ready         ZSET   claimable run id -> (1000 - priority) * 2^42 + due ms since 2020
    delayed       ZSET   claimable run id not yet due -> due time (us)
    waiting       ZSET   waiting run id -> when it stops waiting (us)
    leases        ZSET   running run id -> lease expiry (us)
    conc          HASH   schedule id -> its running runs (for max_concurrent)
    fin           ZSET   finished run id -> finish time (us), for retention
    ev            STREAM the event log, bounded (MAXLEN ~)
    cursors       HASH   reader name -> the last event id it handled (event-started jobs)
    br            HASH   circuit breaker key -> its JSON (swapped by breaker_swap.lua)
    nodes, hb     HASH   node name -> node JSON, -> last heartbeat (us)
    wake          pub/sub channel: "<topic>,<topic> <origin>" after a change (see WAKES)

The scripts live in ``lua/``; each is the shared ``_prelude.lua`` followed by its body,
loaded with SCRIPT LOAD and called with EVALSHA (re-loaded after NOSCRIPT). Every
timestamp a script writes comes from Redis ``TIME``. Schedules are written with a
compare-and-set on their version: the node reads, plans in Python, and the script
commits only if the version is unchanged.

Only a single Redis (or a primary with replicas) is supported: scripts compute their
keys, which Redis Cluster does not allow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from baton.errors import (
    ConfigurationError,
    InvalidInputError,
    ScheduleExistsError,
    StoreError,
    StoreVersionError,
)

# Before the modules below, which import redis-py too: without the extra, this message.
try:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ConfigurationError("the Redis store needs redis-py: pip install 'baton[redis]'") from exc

from baton.model import (
    Event,
    NodeInfo,
    Page,
    Run,
    RunError,
    RunState,
    Schedule,
    ScheduleState,
)
from baton.store import _logic, _redis_check
from baton.store import _redis_codec as codec
from baton.store._breakers import Change
from baton.store._redis_conveyor import ScriptConveyor
from baton.store._signal import TOPICS, Topic
from baton.store.base import (
    Claimant,
    ClaimRequest,
    Completion,
    Fired,
    LeaseStatus,
    Planner,
    RunFilter,
    ScheduleFilter,
    Store,
    StoreReport,
    StoreStats,
)

log = logging.getLogger("baton.store.redis")

SCHEMA_VERSION = 1
_SCRIPTS = (
    "due",
    "put_schedule",
    "put_schedules",
    "check_absent",
    "remove_schedule",
    "fire",
    "enqueue",
    "claim",
    "extend",
    "complete",
    "release",
    "reap",
    "cancel",
    "retry",
    "settle",
    "save_cursor",
    "prune",
    "append_event",
    "heartbeat",
    "breaker_swap",
)
_LIST_BATCH = 500
#: Due schedules planned and committed per fire script (see ``fire_due``).
_FIRE_CHUNK = 100
#: Schedules written per put_schedules script (see ``add_schedules``).
_PUT_CHUNK = 500
#: Older ready runs a fire chunk may claim besides its own new ones.
_CLAIM_EXTRA = 50
_STREAM_ID = re.compile(r"\d{1,20}(-\d{1,20})?")
_UNFINISHED = frozenset({RunState.QUEUED, RunState.RUNNING, RunState.RETRYING, RunState.WAITING})


class RedisStore(Store):
    """A store in one Redis database, shared by any number of nodes on any hosts."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "baton:",
        max_events: int = 100_000,
        socket_timeout: float = 10.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``clock`` is for tests only: it replaces Redis ``TIME`` in every script."""
        super().__init__()
        self.url, self.prefix = _split_prefix(url, prefix)
        self._clock = clock
        self.max_events = max_events
        self._socket_timeout = socket_timeout
        self._redis: aioredis.Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._listener: asyncio.Task[None] | None = None
        self._origin = secrets.token_hex(6)
        self._closing = False
        self._shapes: dict[str, str] = {}

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        if self._redis is not None:
            return
        self._redis = aioredis.from_url(
            self.url,
            decode_responses=True,
            socket_timeout=self._socket_timeout,
            socket_connect_timeout=self._socket_timeout,
            # Never resend a command by itself: a script whose answer timed out may still
            # run when Redis resumes, and a blind resend would claim or fire twice. Each
            # caller retries in its own way (a node keeps its outcomes and tries again).
            retry=Retry(NoBackoff(), 0),
            health_check_interval=15,
        )
        try:
            await self._check_schema()
        except BaseException:
            await self.close()
            raise
        for name in _SCRIPTS:
            self._scripts[name] = self._redis.register_script(_script_source(name))
        self._closing = False
        self._listener = asyncio.create_task(self._listen(), name="baton-redis-wake")

    async def close(self) -> None:
        if self._listener is not None:
            self._closing = True
            _, pending = await asyncio.wait([self._listener], timeout=2)
            for task in pending:
                task.cancel()
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _check_schema(self) -> None:
        found = await self._call(self.r.hgetall(self.prefix + "meta"))
        if not found:
            await self._call(
                self.r.hset(
                    self.prefix + "meta",
                    mapping={"schema": "baton", "version": str(SCHEMA_VERSION)},
                )
            )
            return
        if found.get("schema") != "baton":
            raise StoreVersionError(f"{self.prefix}meta in {self.url} is not a baton store's")
        version = int(found.get("version", "0"))
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"the keys under {self.prefix!r} were written by a newer baton (schema "
                f"version {version}; this version reads up to {SCHEMA_VERSION}): upgrade baton"
            )

    @property
    def r(self) -> aioredis.Redis:
        if self._redis is None:
            raise StoreError("the store is not open (use 'async with store')")
        return self._redis

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc

    def _args(self, *args: Any) -> list[Any]:
        """A script's arguments behind the ones every script reads (see _prelude.lua)."""
        override = codec.us(self._clock()) if self._clock else ""
        return [self.prefix, self.max_events, override, "", *args]

    def _failed(self, exc: BaseException) -> StoreError:
        if isinstance(exc, RedisError):
            return StoreError(f"Redis error on {_safe(self.url)}: {exc}")
        return StoreError(f"cannot reach Redis at {_safe(self.url)}: {exc}")

    def _conveyor(self) -> ScriptConveyor:
        return ScriptConveyor(self.r, self._scripts)

    async def _script(self, name: str, *args: Any) -> Any:
        return await self._call(self._scripts[name](args=self._args(*args)))

    async def check(self) -> StoreReport:
        """Refuse eviction (evicted keys are lost jobs); warn when nothing persists or
        when schedules outgrew Redis's compact encoding (see ``_redis_check``)."""
        stats = await self.stats()
        return await self._call(
            _redis_check.report(self.r, self.prefix, _safe(self.url), stats, codec.NBUCKETS)
        )

    async def now(self) -> datetime:
        if self._clock is not None:
            return self._clock()
        seconds, micros = await self._call(self.r.time())
        return datetime.fromtimestamp(int(seconds), UTC).replace(microsecond=int(micros))

    # -- wake-ups ------------------------------------------------------------------------

    async def _listen(self) -> None:
        """Turn other nodes' change notices into local wake-ups; resubscribe after outages.

        It polls with a short timeout instead of blocking in ``listen()``: a task
        cancelled inside redis-py's blocking read may never finish cancelling.
        """
        channel = self.prefix + "wake"
        delay = 0.05
        first = True
        while not self._closing:
            pubsub = self.r.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                if not first:
                    self._signal.bump()  # notices may have been missed while away
                first, delay = False, 0.05
                while not self._closing:
                    message = await pubsub.get_message(timeout=0.25)
                    if message is None:
                        continue
                    topics, _, origin = str(message.get("data", "")).partition(" ")
                    if origin != self._origin:
                        self._signal.bump(*(t for t in topics.split(",") if t in TOPICS))
            except (RedisError, OSError) as exc:
                log.warning("lost the Redis wake-up channel (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with suppress(Exception):
                    await pubsub.aclose()

    async def _announce(self, topics: tuple[Topic, ...]) -> None:
        try:
            await self.r.publish(self.prefix + "wake", f"{','.join(topics)} {self._origin}")
        except (RedisError, OSError) as exc:
            log.debug("could not announce a change (%s); other nodes catch up on their own", exc)

    # -- records -----------------------------------------------------------------------

    async def _shape(self, shape_id: str) -> str:
        found = self._shapes.get(shape_id)
        if found is None:
            found = await self._call(self.r.hget(self.prefix + "shapes", shape_id))
            if found is None:
                raise StoreError(f"schedule shape {shape_id!r} is missing from {self.prefix}shapes")
            self._shapes[shape_id] = found
        return found

    async def _decode(self, sid: str, definition: str, state: str, nxt: Any) -> Schedule:
        shape_id = codec.shape_of(definition)
        shape = self._shapes.get(shape_id) or await self._shape(shape_id)
        return codec.decode_schedule(sid, definition, state, nxt, shape)

    def _runs_from_replies(self, replies: Iterable[Any]) -> list[Run]:
        return [codec.decode_run(codec.flat_to_dict(flat)) for flat in replies]

    def _keys(self, schedule_id: str) -> tuple[str, str, str]:
        b = codec.bucket(schedule_id)
        return f"{self.prefix}s:{b}", f"{self.prefix}m:{b}", f"{self.prefix}d:{b}"

    async def _put(self, schedule: Schedule, expected: int | None, kind: str, data: str) -> str:
        shape_id, shape_json, definition, state = codec.encode_schedule(schedule)
        nxt = codec.us(schedule.next_fire_at) if schedule.state is ScheduleState.ACTIVE else ""
        self._shapes[shape_id] = shape_json
        return str(
            await self._script(
                "put_schedule",
                schedule.id,
                "" if expected is None else expected,
                definition,
                state,
                nxt,
                kind,
                data,
                shape_id,
                shape_json,
            )
        )

    # -- schedules -----------------------------------------------------------------------

    async def _add_schedules(
        self, schedules: Sequence[Schedule], *, replace: bool
    ) -> list[Schedule]:
        """One script for a small add; a larger one is written in chunks on one connection,
        two scripts queued in Redis while this process encodes the next chunk.

        All or nothing all the same: without ``replace`` a first script checks every id
        and, on a taken one, sets an abort key that the chunks queued behind it (same
        connection, so strictly after it) find and stop at. Only an id added by someone
        else between that check and its chunk's write can refuse the add after earlier
        chunks are written; the error names it like any other.
        """
        if len(schedules) <= _PUT_CHUNK:
            reply = await self._script("put_schedules", *self._put_args(schedules, "", replace))
            return self._put_result(schedules, reply)
        nonce = secrets.token_hex(8)
        refusal: str | None = None
        replies: list[Any] = []
        try:
            async with self._conveyor() as conveyor:
                await conveyor.load("check_absent", "put_schedules")
                if not replace:
                    await conveyor.send(
                        "check_absent", self._args(nonce, *(s.id for s in schedules))
                    )
                for start in range(0, len(schedules), _PUT_CHUNK):
                    args = self._put_args(schedules[start : start + _PUT_CHUNK], nonce, replace)
                    await conveyor.send("put_schedules", self._args(*args))
                    while conveyor.in_flight > 2:
                        replies.append(await conveyor.reply())
                replies += await conveyor.replies()
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        if not replace:
            refusal = self._refusal(replies.pop(0))
        stored: list[Schedule] = []
        for start, reply in zip(range(0, len(schedules), _PUT_CHUNK), replies, strict=True):
            refusal = refusal or self._refusal(reply)
            if refusal is None:
                stored += self._put_result(schedules[start : start + _PUT_CHUNK], reply)
        if refusal is not None:
            raise ScheduleExistsError(refusal)
        return stored

    def _refusal(self, reply: Any) -> str | None:
        """The taken id a step of a bulk add was refused for (None: it was not)."""
        if isinstance(reply, BaseException):
            raise self._failed(reply) from reply
        return str(reply[1]) if reply[0] == "exists" else None

    def _put_args(self, chunk: Sequence[Schedule], nonce: str, replace: bool) -> list[Any]:
        shapes: dict[str, str] = {}
        rows: list[Any] = []
        for schedule in chunk:
            shape_id, shape_json, definition, state = codec.encode_schedule(schedule, 1)
            shapes[shape_id] = shape_json
            active = schedule.state is ScheduleState.ACTIVE
            nxt = codec.us(schedule.next_fire_at) if active else ""
            rows += [schedule.id, definition, state, nxt, shape_id]
        self._shapes.update(shapes)
        pairs = [x for pair in shapes.items() for x in pair]
        return ["1" if replace else "", nonce, len(shapes), *pairs, *rows]

    def _put_result(self, chunk: Sequence[Schedule], reply: Any) -> list[Schedule]:
        refusal = self._refusal(reply)
        if refusal is not None:
            raise ScheduleExistsError(refusal)
        return [codec.as_stored(s, v) for s, v in zip(chunk, reply[1], strict=True)]

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        found = await self._schedules([schedule_id])
        return found[0] if found else None

    async def _schedules(self, ids: list[str]) -> list[Schedule]:
        if not ids:
            return []
        async with self.r.pipeline(transaction=False) as pipe:
            for sid in ids:
                skey, mkey, dkey = self._keys(sid)
                pipe.hget(skey, sid)
                pipe.hget(mkey, sid)
                pipe.zscore(dkey, sid)
            replies = await self._call(pipe.execute())
        out = []
        for i, sid in enumerate(ids):
            definition, state, nxt = replies[3 * i : 3 * i + 3]
            if definition and state:
                out.append(await self._decode(sid, definition, state, nxt))
        return out

    async def _all_ids(self) -> list[str]:
        async with self.r.pipeline(transaction=False) as pipe:
            for b in range(codec.NBUCKETS):
                pipe.hkeys(f"{self.prefix}s:{b}")
            buckets = await self._call(pipe.execute())
        return sorted(sid for ids in buckets for sid in ids)

    async def list_schedules(
        self, flt: ScheduleFilter | None = None, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Schedule]:
        flt = flt or ScheduleFilter()
        ids = await self._all_ids()
        if flt.id_prefix:
            ids = [i for i in ids if i.startswith(flt.id_prefix)]
        if cursor is not None:
            ids = [i for i in ids if i > cursor]
        items: list[Schedule] = []
        for start in range(0, len(ids), _LIST_BATCH):
            batch = await self._schedules(ids[start : start + _LIST_BATCH])
            items += [s for s in batch if _logic.schedule_matches(s, flt)]
            if len(items) > limit:
                break
        page = items[:limit]
        more = len(items) > limit
        return Page[Schedule](items=page, next_cursor=page[-1].id if more else None)

    async def dependent_schedules(self) -> list[Schedule]:
        # Schedules share shapes (type, trigger, policy): with no shape of an after
        # trigger (the usual case) there is no dependent schedule, and nothing to read.
        shapes = await self._call(self.r.hvals(self.prefix + "shapes"))
        if not any('"tr":{"after":' in shape for shape in shapes):
            return []
        return await super().dependent_schedules()

    async def _remove_schedule(self, schedule_id: str, *, reason: str) -> bool:
        return bool(await self._script("remove_schedule", schedule_id, reason))

    async def _set_schedule_state(
        self, schedule_id: str, state: ScheduleState, *, next_fire_at: datetime | None
    ) -> Schedule | None:
        for _ in range(100):
            old = await self.get_schedule(schedule_id)
            if old is None:
                return None
            new = old.model_copy(
                update={
                    "state": state,
                    "next_fire_at": next_fire_at,
                    "version": old.version + 1,
                    "updated_at": await self.now(),
                }
            )
            kind = "schedule.paused" if state is ScheduleState.PAUSED else "schedule.resumed"
            if await self._put(new, old.version, kind, "{}") == "ok":
                return await self.get_schedule(schedule_id)
        raise StoreError(f"schedule {schedule_id!r} kept changing while it was written")

    async def next_fire_time(self) -> datetime | None:
        first = await self._call(self.r.zrange(self.prefix + "due", 0, 0, withscores=True))
        return codec.dt(first[0][1]) if first else None

    async def _fire_due(
        self, *, limit: int, planner: Planner, horizon: timedelta, claim: Claimant | None
    ) -> Fired:
        """Plan the due schedules in chunks and commit each chunk as soon as it is planned.

        Redis runs one chunk's script while this process plans the next, so the two
        cores work at once. Each chunk commits atomically (per schedule, on its version)
        and claims at most the slots the chunks before it did not fill with new runs.
        """
        clock, *flat = await self._script("due", _micros(horizon), limit)
        now = codec.dt(clock)
        assert now is not None
        rows = [flat[i : i + 4] for i in range(0, len(flat), 4)]
        if not rows and claim is None:
            return Fired(created=[])
        runs_by_id: dict[str, Run] = {}
        try:
            async with self._conveyor() as conveyor:
                await self._send_fires(conveyor, rows, planner, now, horizon, claim, runs_by_id)
                outcomes = await conveyor.replies()
        except (RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        return self._fired(outcomes, runs_by_id)

    async def _send_fires(
        self,
        conveyor: ScriptConveyor,
        rows: list[list[Any]],
        planner: Planner,
        now: datetime,
        horizon: timedelta,
        claim: Claimant | None,
        runs_by_id: dict[str, Run],
    ) -> None:
        """Plan the due rows a chunk at a time and send each chunk's fire script at once;
        ``runs_by_id`` gathers the runs the plans would create."""
        free = claim.limit if claim is not None else 0
        for start in range(0, max(len(rows), 1), _FIRE_CHUNK):
            plans, made = await self._plan(rows[start : start + _FIRE_CHUNK], planner, now, horizon)
            runs_by_id.update(made)
            if not plans and (claim is None or start):
                continue  # nothing to commit; only the first chunk claims alone
            claim_args: list[Any] = [""]
            if claim is not None and free > 0:
                # Its own new runs and a few older ready ones; the worker loop takes any
                # backlog beyond (tokens are arguments: keep them few). With nothing due,
                # the call only claims: all the free slots.
                take = min(free, len(made) + _CLAIM_EXTRA) if rows else free
                claim_args = [
                    claim.owner,
                    take,
                    _micros(claim.lease),
                    _micros(horizon),
                    _types_arg(claim),
                    *_lease_tokens(take),
                ]
                free -= len(made)
            await conveyor.send("fire", self._args(codec.dumps(plans), *claim_args))

    def _fired(self, outcomes: list[Any], runs_by_id: dict[str, Run]) -> Fired:
        """What the fire scripts created and claimed; fails only when every chunk did."""
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        if failures and len(failures) == len(outcomes):
            raise self._failed(failures[0]) from failures[0]
        for failure in failures:
            # The other chunks committed (and may hold claimed runs): report them.
            log.error("committing a chunk of fire plans failed: %s", failure)
        created: list[Run] = []
        claimed: list[Run] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                continue
            created_ids, claimed_flat = outcome
            created += [runs_by_id[rid] for rid in created_ids]
            claimed += [codec.claimed_run(codec.flat_to_dict(f), runs_by_id) for f in claimed_flat]
        return Fired(created=created, claimed=claimed)

    async def _plan(
        self, rows: list[list[Any]], planner: Planner, now: datetime, horizon: timedelta
    ) -> tuple[list[dict[str, Any]], dict[str, Run]]:
        """Fire plans (as fire.lua reads them) of due rows, and the runs they would create."""
        until = now + horizon
        plans: list[dict[str, Any]] = []
        runs_by_id: dict[str, Run] = {}
        for sid, nxt, definition, state in rows:
            if not definition or not state:
                continue
            try:
                schedule = await self._decode(sid, definition, state, nxt)
            except (StoreError, ValueError, LookupError) as exc:
                plans.append(_set_aside(sid, state, now, exc))
                continue
            one = _logic.plan_one(schedule, planner, now, until)
            runs_by_id.update((r.id, r) for r in one.runs)
            fired = one.fired
            plans.append(
                {
                    "id": sid,
                    "v": one.version,
                    "mut": "" if fired is None else codec.encode_state(fired),
                    "next": codec.us(fired.next_fire_at) if fired is not None else "",
                    "runs": [[r.id, *codec.run_fields(r)] for r in one.runs],
                    "ev": [[kind, data] for kind, _, data in one.notes],
                    "sup": one.supersede,
                }
            )
        return plans, runs_by_id

    # -- runs ----------------------------------------------------------------------------

    async def _enqueue_run(self, run: Run) -> tuple[Run, bool]:
        made, flat = await self._script("enqueue", run.id, *codec.run_fields(run))
        return codec.decode_run(codec.flat_to_dict(flat)), bool(made)

    async def _claim_runs(self, request: ClaimRequest) -> list[Run]:
        tokens = _lease_tokens(request.limit)
        replies = await self._script(
            "claim",
            request.owner,
            request.limit,
            _micros(request.lease),
            _micros(request.horizon),
            _types_arg(request),
            *tokens,
        )
        return self._runs_from_replies(replies)

    async def next_due_run_time(self) -> datetime | None:
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.zcard(self.prefix + "ready")
            pipe.zrange(self.prefix + "delayed", 0, 0, withscores=True)
            ready, delayed = await self._call(pipe.execute())
        if ready:
            return await self.now()
        return codec.dt(delayed[0][1]) if delayed else None

    async def extend_leases(
        self, *, owner: str, tokens: Mapping[str, str], lease: timedelta
    ) -> LeaseStatus:
        if not tokens:
            return LeaseStatus()
        pairs = [item for pair in tokens.items() for item in pair]
        kept, cancel = await self._script("extend", _micros(lease), *pairs)
        return LeaseStatus(kept=frozenset(kept), cancel_requested=frozenset(cancel))

    async def _complete_runs(self, completions: Sequence[Completion]) -> list[bool]:
        items = [
            {
                "id": c.run_id,
                "tok": c.lease_token,
                "st": c.outcome.state.value,
                "err": c.outcome.error.model_dump_json() if c.outcome.error else "",
                "note": c.outcome.note or "",
                "delay": _micros(c.outcome.retry_delay),
                "stop": c.outcome.stop_schedule or "",
            }
            for c in completions
        ]
        results = await self._script("complete", codec.dumps(items))
        return [bool(r) for r in results]

    async def _release_runs(self, *, owner: str, tokens: Mapping[str, str]) -> int:
        pairs = [item for pair in tokens.items() for item in pair]
        return int(await self._script("release", owner, *pairs))

    async def _reap_expired(self, *, limit: int) -> list[Run]:
        replies = await self._script(
            "reap", limit, _logic.LEASE_EXPIRED.model_dump_json(), _LEASE_BUDGET_SPENT
        )
        return self._runs_from_replies(replies)

    async def _cancel_run(self, run_id: str, *, reason: str) -> Run | None:
        flat = await self._script("cancel", run_id, reason)
        return codec.decode_run(codec.flat_to_dict(flat)) if flat else None

    async def _retry_run(
        self, run_id: str, *, reason: str, wait_until: datetime | None
    ) -> Run | None:
        untl = codec.us(wait_until) if wait_until is not None else ""
        flat = await self._script("retry", run_id, reason, untl)
        return codec.decode_run(codec.flat_to_dict(flat)) if flat else None

    async def _settle_waiting(self, run_id: str, *, release: bool, note: str) -> Run | None:
        flat = await self._script("settle", run_id, "1" if release else "0", note)
        return codec.decode_run(codec.flat_to_dict(flat)) if flat else None

    async def get_run(self, run_id: str) -> Run | None:
        flat = await self._call(self.r.hgetall(self.prefix + "r:" + run_id))
        return codec.decode_run(flat) if flat else None

    async def list_runs(
        self, flt: RunFilter | None = None, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Run]:
        flt = flt or RunFilter()
        if flt.states and flt.states <= _UNFINISHED:
            return await self._list_unfinished(flt, cursor, limit)
        top = f"({_logic.int_cursor(cursor)}" if cursor else "+inf"
        items: list[tuple[int, Run]] = []
        while len(items) <= limit:
            batch = await self._call(
                self.r.zrevrangebyscore(
                    self.prefix + "runs", top, "-inf", start=0, num=_LIST_BATCH, withscores=True
                )
            )
            if not batch:
                break
            async with self.r.pipeline(transaction=False) as pipe:
                for rid, _ in batch:
                    pipe.hgetall(self.prefix + "r:" + rid)
                flats = await self._call(pipe.execute())
            for (_rid, seq), flat in zip(batch, flats, strict=True):
                if flat:
                    run = codec.decode_run(flat)
                    if _logic.run_matches(run, flt):
                        items.append((int(seq), run))
            top = f"({int(batch[-1][1])}"
            if len(batch) < _LIST_BATCH:
                break
        page = items[:limit]
        more = len(items) > limit
        return Page[Run](items=[r for _, r in page], next_cursor=str(page[-1][0]) if more else None)

    async def _list_unfinished(self, flt: RunFilter, cursor: str | None, limit: int) -> Page[Run]:
        """Unfinished runs come from the queue and lease sets, not from the whole history."""
        sets = {
            "running": ["leases"],
            "queued": ["ready", "delayed"],
            "retrying": ["ready", "delayed"],
            "waiting": ["waiting"],
        }
        names = sorted({key for state in flt.states for key in sets[state.value]})
        async with self.r.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.zrange(self.prefix + name, 0, -1)
            ids = sorted({i for found in await self._call(pipe.execute()) for i in found})
        runs: list[tuple[int, Run]] = []
        for start in range(0, len(ids), _LIST_BATCH):
            async with self.r.pipeline(transaction=False) as pipe:
                for rid in ids[start : start + _LIST_BATCH]:
                    pipe.hgetall(self.prefix + "r:" + rid)
                flats = await self._call(pipe.execute())
            for flat in flats:
                run = codec.decode_run(flat) if flat else None
                if run is not None and _logic.run_matches(run, flt):
                    runs.append((int(flat["seq"]), run))
        runs.sort(key=lambda item: -item[0])
        if cursor is not None:
            before = _logic.int_cursor(cursor)
            runs = [item for item in runs if item[0] < before]
        page = runs[:limit]
        more = len(runs) > limit
        return Page[Run](items=[r for _, r in page], next_cursor=str(page[-1][0]) if more else None)

    async def prune_runs(self, *, keep: int, older_than: timedelta) -> int:
        cutoff = codec.us(await self.now() - older_than)
        total = 0
        while True:
            n = int(await self._script("prune", cutoff, keep, 5000))
            total += n
            if n < 5000:
                return total

    # -- circuit breakers ------------------------------------------------------------------

    async def _breaker(self, key: str) -> str | None:
        found = await self._call(self.r.hget(self.prefix + "br", key))
        return None if found is None else str(found)

    async def _all_breakers(self) -> list[str]:
        return [str(raw) for raw in await self._call(self.r.hvals(self.prefix + "br"))]

    async def _swap_breaker(self, key: str, expected: str | None, change: Change) -> bool:
        kind, subject, data = change.event or ("", "", {})
        swapped = await self._script(
            "breaker_swap",
            key,
            expected or "",
            change.breaker.model_dump_json(),
            kind,
            subject,
            codec.dumps(data),
        )
        return bool(swapped)

    # -- nodes and events ----------------------------------------------------------------

    async def heartbeat(self, node: NodeInfo) -> None:
        info = node.model_dump_json(exclude={"heartbeat_at"})
        await self._script("heartbeat", node.name, info)

    async def stats(self) -> StoreStats:
        # Active schedules are exactly those with a next fire in a d: bucket.
        async with self.r.pipeline(transaction=False) as pipe:
            for b in range(codec.NBUCKETS):
                pipe.hlen(f"{self.prefix}s:{b}")
                pipe.zcard(f"{self.prefix}d:{b}")
            for name in ("ready", "delayed", "leases"):
                pipe.zcard(self.prefix + name)
            counts = await self._call(pipe.execute())
        *buckets, ready, delayed, leases = counts
        total, active = sum(buckets[0::2]), sum(buckets[1::2])
        return StoreStats(
            schedules={ScheduleState.ACTIVE: active, ScheduleState.PAUSED: total - active},
            queued=ready + delayed,
            running=leases,
        )

    async def list_nodes(self) -> list[NodeInfo]:
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.prefix + "nodes")
            pipe.hgetall(self.prefix + "hb")
            infos, beats = await self._call(pipe.execute())
        return [
            NodeInfo.model_validate(
                {**json.loads(infos[name]), "heartbeat_at": codec.dt(beats.get(name))}
            )
            for name in sorted(infos)
            if name in beats
        ]

    async def remove_node(self, name: str) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hdel(self.prefix + "nodes", name)
            pipe.hdel(self.prefix + "hb", name)
            await self._call(pipe.execute())

    async def append_event(self, kind: str, subject: str, data: dict[str, Any]) -> Event:
        event_id = await self._script("append_event", kind, subject, codec.dumps(data))
        return Event(id=event_id, kind=kind, at=_stream_time(event_id), subject=subject, data=data)

    async def read_events(self, *, after: str | None = None, limit: int = 100) -> list[Event]:
        if after and not _STREAM_ID.fullmatch(after):
            raise InvalidInputError("is not an event id of this store", field="after")
        start = f"({after}" if after else "-"
        entries = await self._call(self.r.xrange(self.prefix + "ev", start, "+", count=limit))
        return [
            Event(
                id=eid, kind=f["k"], at=_stream_time(eid), subject=f["s"], data=json.loads(f["d"])
            )
            for eid, f in entries
        ]

    async def last_event_id(self) -> str | None:
        newest = await self._call(self.r.xrevrange(self.prefix + "ev", count=1))
        return newest[0][0] if newest else None

    async def load_cursor(self, name: str) -> str | None:
        found = await self._call(self.r.hget(self.prefix + "cursors", name))
        return str(found) if found is not None else None

    async def save_cursor(self, name: str, event_id: str) -> str:
        if not _STREAM_ID.fullmatch(event_id):
            raise InvalidInputError("is not an event id of this store", field="event_id")
        return str(await self._script("save_cursor", name, event_id))

    async def prune_events(self, *, keep: int) -> int:
        return int(
            await self._call(self.r.xtrim(self.prefix + "ev", maxlen=keep, approximate=False))
        )


#: How long a schedule that cannot be read waits before it is looked at again.
_SET_ASIDE = timedelta(hours=1)


def _set_aside(sid: str, state: str, now: datetime, exc: Exception) -> dict[str, Any]:
    """The fire plan of a schedule whose stored form cannot be read (a shape deleted by
    hand): fire nothing, keep it stored, look again later; the rest of the batch fires."""
    log.error("schedule %s cannot be read (%s); it is kept and retried in an hour", sid, exc)
    version = int(json.loads(state)[0])
    return {
        "id": sid,
        "v": version,
        "mut": codec.with_version(state, version + 1),
        "next": codec.us(now + _SET_ASIDE),
        "runs": [],
        "ev": [],
        "sup": [],
    }


def _types_arg(claim: Claimant) -> str:
    """The job types a claim is limited to, as the scripts read them ('' = any)."""
    return "" if claim.types is None else codec.dumps(sorted(claim.types))


#: The error reap.lua writes on a run past its lease-loss budget (``%d``: its numbers).
_LEASE_BUDGET_SPENT = RunError(
    type="LeaseExpired", message=_logic.LEASE_BUDGET_SPENT
).model_dump_json()


def _lease_tokens(count: int) -> list[str]:
    """Fresh lease tokens: a random stem per call, numbered (unique, and cheap to make)."""
    stem = secrets.token_hex(6)
    return [f"{stem}{i:04x}" for i in range(count)]


def _stream_time(event_id: str) -> datetime:
    """A stream entry's id starts with its time in milliseconds."""
    millis = int(event_id.split("-", 1)[0])
    return datetime.fromtimestamp(millis // 1000, UTC).replace(microsecond=millis % 1000 * 1000)


def _micros(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1_000_000)


def _script_source(name: str) -> str:
    folder = resources.files("baton.store") / "lua"
    prelude = (folder / "_prelude.lua").read_text()
    return prelude + "\n" + (folder / f"{name}.lua").read_text()


def _split_prefix(url: str, default: str) -> tuple[str, str]:
    """Take ``?prefix=`` out of the URL: it is ours, not redis-py's."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefix = next((v for k, v in query if k == "prefix"), default)
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
