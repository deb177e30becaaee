"""The SQLite store: the embedded default, shared safely by several processes on one host.

Concurrency model: every write is one short ``BEGIN IMMEDIATE`` transaction, so SQLite
hands the write lock to one connection at a time and a transaction never has to upgrade
a read lock (the classic source of ``database is locked`` deadlocks). Inside a process an
asyncio lock queues writers before they reach SQLite; across processes SQLite's busy
timeout queues them. The database runs in WAL mode, so readers never wait for writers.

Because each write holds the lock from its first read to its commit, the compare-and-set
in :meth:`SQLiteStore.fire_due` can never lose against another process here; it stays
for the contract's sake. The clock is the host's: every process sharing the file is on
the same host.

Wake-ups: a process notices other processes' commits by polling ``PRAGMA data_version``
on a dedicated connection (a cheap read of a counter in shared memory).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, bindparam, delete, event, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from baton import events as ev
from baton.errors import ScheduleExistsError, StoreError, StoreVersionError
from baton.model import Event, NodeInfo, Page, Run, RunState, Schedule, ScheduleState, utcnow
from baton.store import _logic, _sql
from baton.store._sql import events, meta, nodes, runs, schedules, to_us
from baton.store.base import (
    Completion,
    LeaseStatus,
    Planner,
    RunFilter,
    ScheduleFilter,
    Store,
)

_CLAIMABLE = (RunState.QUEUED.value, RunState.RETRYING.value)
_FINISHED = tuple(s.value for s in RunState if s.finished)


class SQLiteStore(Store):
    """A store in one SQLite file. Several processes on one host may open the same file."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], datetime] = utcnow,
        busy_timeout: float = 30.0,
        watch_interval: float = 0.05,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._busy_ms = int(busy_timeout * 1000)
        self._watch_interval = watch_interval
        self._engine: AsyncEngine | None = None
        self._writer: AsyncEngine | None = None
        self._write_lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._watch_conn: AsyncConnection | None = None
        self._data_version: int | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._engine is not None:
            return
        if not self.path.parent.exists():
            raise StoreError(
                f"cannot open {self.path}: the folder {self.path.parent} does not exist"
            )
        engine = create_async_engine(f"sqlite+aiosqlite:///{self.path}")
        busy_ms = self._busy_ms

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event, not the driver, open transactions.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            # WAL lets readers run beside the one writer; it is stored in the file.
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            write = conn.get_execution_options().get("baton_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        self._engine = engine
        self._writer = engine.execution_options(baton_write=True)
        try:
            await self._init_schema()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._watch_conn is not None:
            with suppress(Exception):
                await self._watch_conn.close()
            self._watch_conn = None
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = self._writer = None

    async def _init_schema(self) -> None:
        async with self._tx() as conn:
            names = {
                r[0]
                for r in await conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            }
            if meta.name in names:
                await self._check_version(conn)
                return
            foreign = sorted(n for n in names if not n.startswith("sqlite_"))
            if foreign:
                raise StoreVersionError(
                    f"{self.path} is not a baton store (it holds the tables {', '.join(foreign)})"
                )
            await conn.run_sync(_sql.metadata.create_all)
            await conn.execute(
                insert(meta),
                [
                    {"key": "schema", "value": "baton"},
                    {"key": "version", "value": str(_sql.SCHEMA_VERSION)},
                ],
            )

    async def _check_version(self, conn: AsyncConnection) -> None:
        found = {key: value for key, value in await conn.execute(select(meta.c.key, meta.c.value))}
        if found.get("schema") != "baton":
            raise StoreVersionError(f"{self.path} is not a baton store")
        version = int(found.get("version", "0"))
        if version > _sql.SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path} was written by a newer baton (schema version {version}; "
                f"this version reads up to {_sql.SCHEMA_VERSION}): upgrade baton"
            )

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        """One short write transaction (BEGIN IMMEDIATE); wakes local waiters after commit."""
        if self._writer is None:
            raise StoreError("the store is not open (use 'async with store')")
        async with self._write_lock:
            try:
                async with self._writer.begin() as conn:
                    yield conn
            except SQLAlchemyError as exc:
                raise _translate(exc, self.path) from exc
        self._changed.set()
        self._changed = asyncio.Event()

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        if self._engine is None:
            raise StoreError("the store is not open (use 'async with store')")
        try:
            async with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise _translate(exc, self.path) from exc

    async def now(self) -> datetime:
        return self._clock()

    async def _emit(
        self, conn: AsyncConnection, items: Sequence[tuple[str, str, dict[str, Any]]]
    ) -> None:
        if items:
            at = self._clock()
            await conn.execute(
                insert(events), [_sql.event_row(kind, subj, data, at) for kind, subj, data in items]
            )

    async def _save_runs(self, conn: AsyncConnection, changed: Sequence[Run]) -> None:
        """Write the mutable columns of runs and append the event of each new state."""
        if not changed:
            return
        stmt = (
            update(runs)
            .where(runs.c.id == bindparam("b_id"))
            .values({col: bindparam(f"b_{col}") for col in _sql.RUN_MUTABLE})
        )
        rows = []
        for run in changed:
            row = _sql.run_row(run)
            rows.append({"b_id": run.id, **{f"b_{col}": row[col] for col in _sql.RUN_MUTABLE}})
        await conn.execute(stmt, rows)
        await self._emit(conn, [_run_event(run) for run in changed])

    # -- schedules -----------------------------------------------------------------------

    async def add_schedule(self, schedule: Schedule, *, replace: bool = False) -> Schedule:
        async with self._tx() as conn:
            old = (
                await conn.execute(select(schedules.c.version).where(schedules.c.id == schedule.id))
            ).scalar()
            if old is not None and not replace:
                raise ScheduleExistsError(schedule.id)
            stored = schedule.model_copy(update={"version": (old or 0) + 1})
            if old is not None:
                await conn.execute(delete(schedules).where(schedules.c.id == schedule.id))
            await conn.execute(insert(schedules).values(_sql.schedule_row(stored)))
            kind = ev.SCHEDULE_REPLACED if old is not None else ev.SCHEDULE_ADDED
            await self._emit(conn, [(kind, schedule.id, {"type": schedule.type})])
            return stored

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        async with self._read() as conn:
            row = (
                await conn.execute(select(schedules).where(schedules.c.id == schedule_id))
            ).first()
        return _sql.schedule_from_row(row) if row else None

    async def list_schedules(
        self, flt: ScheduleFilter | None = None, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Schedule]:
        flt = flt or ScheduleFilter()
        query = select(schedules).order_by(schedules.c.id).limit(limit + 1)
        if flt.type is not None:
            query = query.where(schedules.c.type == flt.type)
        if flt.state is not None:
            query = query.where(schedules.c.state == flt.state.value)
        if flt.id_prefix:
            query = query.where(schedules.c.id.startswith(flt.id_prefix, autoescape=True))
        if cursor is not None:
            query = query.where(schedules.c.id > cursor)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        items = [_sql.schedule_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page[Schedule](items=items, next_cursor=items[-1].id if more else None)

    async def remove_schedule(self, schedule_id: str, *, reason: str) -> bool:
        async with self._tx() as conn:
            result = await conn.execute(delete(schedules).where(schedules.c.id == schedule_id))
            if result.rowcount == 0:
                return False
            await self._emit(conn, [(ev.SCHEDULE_REMOVED, schedule_id, {"reason": reason})])
            return True

    async def set_schedule_state(
        self, schedule_id: str, state: ScheduleState, *, next_fire_at: datetime | None
    ) -> Schedule | None:
        async with self._tx() as conn:
            result = await conn.execute(
                update(schedules)
                .where(schedules.c.id == schedule_id)
                .values(
                    state=state.value,
                    next_fire_at=to_us(next_fire_at),
                    version=schedules.c.version + 1,
                    updated_at=to_us(self._clock()),
                )
            )
            if result.rowcount == 0:
                return None
            kind = ev.SCHEDULE_PAUSED if state is ScheduleState.PAUSED else ev.SCHEDULE_RESUMED
            await self._emit(conn, [(kind, schedule_id, {})])
            row = (await conn.execute(select(schedules).where(schedules.c.id == schedule_id))).one()
            return _sql.schedule_from_row(row)

    async def next_fire_time(self) -> datetime | None:
        query = select(func.min(schedules.c.next_fire_at)).where(
            schedules.c.state == ScheduleState.ACTIVE.value
        )
        async with self._read() as conn:
            return _sql.from_us((await conn.execute(query)).scalar())

    async def fire_due(self, *, limit: int, planner: Planner) -> list[Run]:
        async with self._tx() as conn:
            now = self._clock()
            rows = (
                await conn.execute(
                    select(schedules)
                    .where(
                        schedules.c.state == ScheduleState.ACTIVE.value,
                        schedules.c.next_fire_at <= to_us(now),
                    )
                    .order_by(schedules.c.next_fire_at)
                    .limit(limit)
                )
            ).all()
            if not rows:
                return []
            return await self._commit_fires(
                conn, [_sql.schedule_from_row(r) for r in rows], planner, now
            )

    async def _commit_fires(
        self, conn: AsyncConnection, due: list[Schedule], planner: Planner, now: datetime
    ) -> list[Run]:
        fired: list[Schedule] = []
        finished: list[str] = []
        candidates: list[Run] = []
        notes: list[tuple[str, str, dict[str, Any]]] = []
        for schedule in due:
            plan = planner(schedule, now)
            candidates.extend(_logic.runs_from_plan(schedule, plan, now))
            skipped = _logic.misfire_event(schedule, plan)
            if skipped:
                notes.append((ev.SCHEDULE_MISFIRED, schedule.id, skipped))
            if plan.next_fire_at is None:
                finished.append(schedule.id)
                notes.append((ev.SCHEDULE_REMOVED, schedule.id, {"reason": "trigger finished"}))
            else:
                fired.append(_logic.fired_schedule(schedule, plan, now))
        if fired:
            await conn.execute(
                update(schedules)
                .where(
                    schedules.c.id == bindparam("b_id"),
                    schedules.c.version == bindparam("b_version"),
                )
                .values(
                    next_fire_at=bindparam("b_next"),
                    last_fire_at=bindparam("b_last"),
                    version=bindparam("b_new_version"),
                    updated_at=to_us(now),
                ),
                [
                    {
                        "b_id": s.id,
                        "b_version": s.version - 1,
                        "b_new_version": s.version,
                        "b_next": to_us(s.next_fire_at),
                        "b_last": to_us(s.last_fire_at),
                    }
                    for s in fired
                ],
            )
        if finished:
            await conn.execute(delete(schedules).where(schedules.c.id.in_(finished)))
        created = await self._insert_new_runs(conn, candidates)
        await self._emit(conn, notes + [_run_event(r) for r in created])
        return created

    async def _insert_new_runs(self, conn: AsyncConnection, candidates: list[Run]) -> list[Run]:
        if not candidates:
            return []
        existing: set[str] = set()
        ids = [r.id for r in candidates]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            existing |= set(
                (await conn.execute(select(runs.c.id).where(runs.c.id.in_(chunk)))).scalars()
            )
        created = [r for r in candidates if r.id not in existing]
        if created:
            await conn.execute(
                sqlite_insert(runs).on_conflict_do_nothing(index_elements=["id"]),
                [_sql.run_row(r) for r in created],
            )
        return created

    # -- runs ------------------------------------------------------------------------------

    async def enqueue_run(self, run: Run) -> tuple[Run, bool]:
        async with self._tx() as conn:
            created = await self._insert_new_runs(conn, [run])
            if created:
                await self._emit(conn, [_run_event(run)])
                return run, True
            row = (await conn.execute(select(runs).where(runs.c.id == run.id))).one()
            return _sql.run_from_row(row), False

    async def claim_runs(self, *, owner: str, limit: int, lease: timedelta) -> list[Run]:
        if limit <= 0:
            return []
        async with self._tx() as conn:
            now = self._clock()
            chosen: list[Run] = []
            running = await self._running_counts(conn)
            offset, page = 0, max(limit * 4, 100)
            while len(chosen) < limit:
                rows = (await conn.execute(_claimable(now).offset(offset).limit(page))).all()
                for row in rows:
                    if len(chosen) >= limit:
                        break
                    sid, cap = row._mapping["schedule_id"], row._mapping["max_concurrent"]
                    if sid is not None:
                        if running.get(sid, 0) >= cap:
                            continue
                        running[sid] = running.get(sid, 0) + 1
                    run = _sql.run_from_row(row)
                    chosen.append(_logic.claimed(run, owner=owner, lease=lease, now=now))
                if len(rows) < page:
                    break
                offset += page
            await self._save_runs(conn, chosen)
            return chosen

    async def _running_counts(self, conn: AsyncConnection) -> dict[str, int]:
        query = (
            select(runs.c.schedule_id, func.count())
            .where(runs.c.state == RunState.RUNNING.value, runs.c.schedule_id.is_not(None))
            .group_by(runs.c.schedule_id)
        )
        return {sid: count for sid, count in await conn.execute(query)}

    async def next_due_run_time(self) -> datetime | None:
        query = select(func.min(runs.c.due_at)).where(runs.c.state.in_(_CLAIMABLE))
        async with self._read() as conn:
            return _sql.from_us((await conn.execute(query)).scalar())

    async def extend_leases(
        self, *, owner: str, tokens: Mapping[str, str], lease: timedelta
    ) -> LeaseStatus:
        if not tokens:
            return LeaseStatus()
        async with self._tx() as conn:
            expires = to_us(self._clock() + lease)
            rows = await self._leased(conn, tokens)
            kept = {r.id for r in rows}
            if kept:
                await conn.execute(
                    update(runs).where(runs.c.id.in_(kept)).values(lease_expires_at=expires)
                )
            cancel = {r.id for r in rows if r.cancel_requested}
            return LeaseStatus(kept=frozenset(kept), cancel_requested=frozenset(cancel))

    async def _leased(self, conn: AsyncConnection, tokens: Mapping[str, str]) -> list[Any]:
        """The running rows among ``tokens`` whose lease token still matches."""
        found = []
        ids = list(tokens)
        for start in range(0, len(ids), 500):
            query = select(runs.c.id, runs.c.lease_token, runs.c.cancel_requested).where(
                runs.c.id.in_(ids[start : start + 500]), runs.c.state == RunState.RUNNING.value
            )
            found.extend(
                r for r in (await conn.execute(query)).all() if tokens[r.id] == r.lease_token
            )
        return found

    async def complete_runs(self, completions: Sequence[Completion]) -> list[bool]:
        if not completions:
            return []
        async with self._tx() as conn:
            now = self._clock()
            by_id = {c.run_id: c for c in completions}
            current = await self._load_runs(conn, list(by_id))
            changed: list[Run] = []
            results = []
            for completion in completions:
                run = current.get(completion.run_id)
                ok = (
                    run is not None
                    and run.state is RunState.RUNNING
                    and run.lease_token == completion.lease_token
                )
                results.append(ok)
                if ok:
                    assert run is not None
                    changed.append(_logic.completed(run, completion, now))
            await self._save_runs(conn, changed)
            for completion, ok in zip(completions, results, strict=True):
                run = current.get(completion.run_id)
                if ok and completion.stop_schedule is not None and run and run.schedule_id:
                    await self._stop_schedule(conn, run.schedule_id, completion.stop_schedule, now)
            return results

    async def _stop_schedule(
        self, conn: AsyncConnection, schedule_id: str, reason: str, now: datetime
    ) -> None:
        result = await conn.execute(delete(schedules).where(schedules.c.id == schedule_id))
        if result.rowcount:
            await self._emit(conn, [(ev.SCHEDULE_REMOVED, schedule_id, {"reason": reason})])
        rows = (
            await conn.execute(
                select(runs).where(runs.c.schedule_id == schedule_id, runs.c.state.in_(_CLAIMABLE))
            )
        ).all()
        note = f"schedule stopped: {reason}"
        await self._save_runs(
            conn, [_logic.cancelled(_sql.run_from_row(r), note, now) for r in rows]
        )

    async def _load_runs(self, conn: AsyncConnection, ids: list[str]) -> dict[str, Run]:
        found: dict[str, Run] = {}
        for start in range(0, len(ids), 500):
            rows = (
                await conn.execute(select(runs).where(runs.c.id.in_(ids[start : start + 500])))
            ).all()
            found.update((r.id, _sql.run_from_row(r)) for r in rows)
        return found

    async def release_runs(self, *, owner: str, tokens: Mapping[str, str]) -> int:
        if not tokens:
            return 0
        async with self._tx() as conn:
            ids = [r.id for r in await self._leased(conn, tokens)]
            current = await self._load_runs(conn, ids)
            await self._save_runs(conn, [_logic.released(r) for r in current.values()])
            await self._emit(conn, [(ev.RUN_RELEASED, i, {"node": owner}) for i in ids])
            return len(ids)

    async def reap_expired(self, *, limit: int = 1000) -> list[Run]:
        async with self._tx() as conn:
            now = self._clock()
            rows = (
                await conn.execute(
                    select(runs)
                    .where(
                        runs.c.state == RunState.RUNNING.value, runs.c.lease_expires_at < to_us(now)
                    )
                    .order_by(runs.c.lease_expires_at)
                    .limit(limit)
                )
            ).all()
            reaped = [_logic.reaped(_sql.run_from_row(r), now) for r in rows]
            await self._save_runs(conn, reaped)
            return reaped

    async def cancel_run(self, run_id: str, *, reason: str) -> Run | None:
        async with self._tx() as conn:
            run = (await self._load_runs(conn, [run_id])).get(run_id)
            if run is None:
                return None
            new = _logic.cancelled(run, reason, self._clock())
            if new is not run:
                if new.state is RunState.CANCELLED:
                    await self._save_runs(conn, [new])
                else:
                    await conn.execute(
                        update(runs)
                        .where(runs.c.id == run_id)
                        .values(cancel_requested=True, note=reason)
                    )
            return new

    async def get_run(self, run_id: str) -> Run | None:
        async with self._read() as conn:
            row = (await conn.execute(select(runs).where(runs.c.id == run_id))).first()
        return _sql.run_from_row(row) if row else None

    async def list_runs(
        self, flt: RunFilter | None = None, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Run]:
        flt = flt or RunFilter()
        query = select(runs).order_by(runs.c.seq.desc()).limit(limit + 1)
        if flt.schedule_id is not None:
            query = query.where(runs.c.schedule_id == flt.schedule_id)
        if flt.type is not None:
            query = query.where(runs.c.type == flt.type)
        if flt.states:
            query = query.where(runs.c.state.in_([s.value for s in flt.states]))
        if flt.since is not None:
            query = query.where(runs.c.created_at >= to_us(flt.since))
        if cursor is not None:
            query = query.where(runs.c.seq < _int_cursor(cursor))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        items = [_sql.run_from_row(r) for r in rows[:limit]]
        more = len(rows) > limit
        return Page[Run](items=items, next_cursor=str(rows[limit - 1].seq) if more else None)

    async def prune_runs(self, *, keep: int, older_than: timedelta) -> int:
        async with self._tx() as conn:
            cutoff = to_us(self._clock() - older_than)
            finished = runs.c.state.in_(_FINISHED)
            by_age = await conn.execute(delete(runs).where(finished, runs.c.finished_at < cutoff))
            surplus = (
                select(runs.c.seq)
                .where(finished)
                .order_by(runs.c.seq.desc())
                .limit(-1)
                .offset(keep)
                .scalar_subquery()
            )
            by_count = await conn.execute(delete(runs).where(runs.c.seq.in_(surplus)))
            return by_age.rowcount + by_count.rowcount

    # -- nodes and events ------------------------------------------------------------------

    async def heartbeat(self, node: NodeInfo) -> None:
        info = node.model_dump(mode="json", exclude={"heartbeat_at"})
        row = {"name": node.name, "info": json.dumps(info), "heartbeat_at": to_us(self._clock())}
        stmt = sqlite_insert(nodes).values(row)
        async with self._tx() as conn:
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["name"],
                    set_={"info": stmt.excluded.info, "heartbeat_at": stmt.excluded.heartbeat_at},
                )
            )

    async def list_nodes(self) -> list[NodeInfo]:
        async with self._read() as conn:
            rows = (await conn.execute(select(nodes).order_by(nodes.c.name))).all()
        return [_sql.node_from_row(r) for r in rows]

    async def remove_node(self, name: str) -> None:
        async with self._tx() as conn:
            await conn.execute(delete(nodes).where(nodes.c.name == name))

    async def append_event(self, kind: str, subject: str, data: dict[str, Any]) -> Event:
        async with self._tx() as conn:
            at = self._clock()
            result = await conn.execute(
                insert(events).values(_sql.event_row(kind, subject, data, at))
            )
            event_id = result.inserted_primary_key[0]  # type: ignore[index]
        return Event(id=str(event_id), kind=kind, at=at, subject=subject, data=data)

    async def read_events(self, *, after: str | None = None, limit: int = 100) -> list[Event]:
        query = select(events).order_by(events.c.id).limit(limit)
        if after is not None:
            query = query.where(events.c.id > _int_cursor(after))
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [_sql.event_from_row(r) for r in rows]

    async def prune_events(self, *, keep: int) -> int:
        async with self._tx() as conn:
            top = (await conn.execute(select(func.max(events.c.id)))).scalar() or 0
            result = await conn.execute(delete(events).where(events.c.id <= top - keep))
            return result.rowcount

    async def wait_for_change(self, max_wait: float) -> bool:
        local = self._changed
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(local.wait(), min(remaining, self._watch_interval))
                return True
            except TimeoutError:
                pass
            # Shielded: a cancelled waiter must not cut a read off mid-flight.
            if await asyncio.shield(self._other_process_wrote()):
                return True

    async def _other_process_wrote(self) -> bool:
        if self._engine is None:
            return False
        try:
            if self._watch_conn is None:
                self._watch_conn = await self._engine.connect()
            version = (await self._watch_conn.exec_driver_sql("PRAGMA data_version")).scalar()
            await self._watch_conn.rollback()
        except SQLAlchemyError:
            self._watch_conn = None
            return False
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        return changed


def _claimable(now: datetime) -> Select[Any]:
    return (
        select(runs)
        .where(runs.c.state.in_(_CLAIMABLE), runs.c.due_at <= to_us(now))
        .order_by(runs.c.priority.desc(), runs.c.due_at, runs.c.seq)
    )


def _run_event(run: Run) -> tuple[str, str, dict[str, Any]]:
    kind, data = _logic.run_event(run)
    return kind, run.id, data


def _int_cursor(cursor: str) -> int:
    try:
        return int(cursor)
    except ValueError:
        raise StoreError(f"invalid cursor {cursor!r}") from None


def _translate(exc: SQLAlchemyError, path: Path) -> StoreError:
    text = str(getattr(exc, "orig", None) or exc)
    if "file is not a database" in text:
        return StoreVersionError(f"{path} is not an SQLite database")
    if "locked" in text:
        return StoreError(f"{path} stayed locked by another process: {text}")
    return StoreError(f"SQLite error on {path}: {text}")
