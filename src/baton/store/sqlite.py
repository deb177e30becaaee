"""The SQLite store: the embedded default, shared safely by several processes on one host.

Concurrency model: every write is one short ``BEGIN IMMEDIATE`` transaction, so SQLite
hands the write lock to one connection at a time and a transaction never has to upgrade
a read lock (the classic source of ``database is locked`` deadlocks). Across processes,
SQLite's busy timeout queues writers. The database runs in WAL mode, so readers never
wait for writers.

Threads: SQLite's API blocks, so each store operation runs as one synchronous unit
(SQLAlchemy Core on the stdlib driver) on a thread of its own: one thread and connection
for writes, which also queues this process's writers, and one for reads. One operation
costs one hop between the event loop and a thread, however many statements it runs.

Because each write holds the lock from its first read to its commit, the compare-and-set
in :meth:`SQLiteStore.fire_due` can never lose against another process here; it stays
for the contract's sake. The clock is the host's: every process sharing the file is on
the same host.

Wake-ups: a process notices other processes' commits by polling ``PRAGMA data_version``
(a cheap read of a counter in shared memory) on its write connection.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from baton import events as ev
from baton.errors import ScheduleExistsError, StoreError, StoreVersionError
from baton.model import Event, NodeInfo, Page, Run, RunState, Schedule, ScheduleState, utcnow
from baton.store import _logic, _sql
from baton.store._breakers import Change
from baton.store._signal import TOPICS, Marker, Topic
from baton.store._sql import events, meta, nodes, runs, schedules, to_us
from baton.store._sql import schedules as schedules_t
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

T = TypeVar("T")
_CLAIMABLE = (RunState.QUEUED.value, RunState.RETRYING.value)
_FINISHED = tuple(s.value for s in RunState if s.finished)
_CHUNK = 500  # ids per IN (...) list, under SQLite's bound-parameter limit
EventItem = tuple[str, str, dict[str, Any]]


# Statements on the hot paths are built once; SQLAlchemy then reuses their compiled form.
_SAVE_RUN = (
    update(runs)
    .where(runs.c.id == bindparam("b_id"))
    .values({col: bindparam(f"b_{col}") for col in _sql.RUN_MUTABLE})
)
_INSERT_EVENTS = insert(events)
_CLAIMABLE_PAGE = (
    select(runs.c.id, runs.c.schedule_id, runs.c.max_concurrent)
    .where(runs.c.state.in_(_CLAIMABLE), runs.c.due_at <= bindparam("now"))
    .order_by(runs.c.priority.desc(), runs.c.due_at, runs.c.seq)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_CLAIMABLE_PAGE_OF_TYPES = _CLAIMABLE_PAGE.where(
    runs.c.type.in_(bindparam("types", expanding=True))
)
_RUNNING_OF = (
    select(runs.c.schedule_id, func.count())
    .where(
        runs.c.state == RunState.RUNNING.value,
        runs.c.schedule_id.in_(bindparam("sids", expanding=True)),
    )
    .group_by(runs.c.schedule_id)
)
_DUE_SCHEDULES = (
    select(schedules)
    .where(
        schedules.c.state == ScheduleState.ACTIVE.value,
        schedules.c.next_fire_at <= bindparam("now"),
    )
    .order_by(schedules.c.next_fire_at)
    .limit(bindparam("limit"))
)
_NEXT_FIRE = select(func.min(schedules.c.next_fire_at)).where(
    schedules.c.state == ScheduleState.ACTIVE.value
)
_NEXT_DUE = select(func.min(runs.c.due_at)).where(runs.c.state.in_(_CLAIMABLE))
_RUNS_BY_ID = select(runs).where(runs.c.id.in_(bindparam("ids", expanding=True)))


class _Lane:
    """One thread and the one connection it owns."""

    def __init__(self, engine: Engine, name: str, *, write: bool) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"baton-{name}")
        self._engine = engine
        self._write = write
        self._conn: Connection | None = None

    def conn(self) -> Connection:
        if self._conn is None:
            conn = self._engine.connect()
            self._conn = conn.execution_options(baton_write=self._write)
        return self._conn

    def data_version(self) -> int:
        """Read the commit counter outside any transaction (no lock is taken)."""
        raw = self.conn().connection.dbapi_connection
        assert raw is not None
        return int(raw.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        if self._conn is not None:
            with suppress(SQLAlchemyError):
                self._conn.close()
            self._conn = None


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
        super().__init__()
        self.path = Path(path)
        self._clock = clock
        self._busy_ms = int(busy_timeout * 1000)
        self._watch_interval = watch_interval
        self._engine: Engine | None = None
        self._writer: _Lane | None = None
        self._reader: _Lane | None = None
        self._data_version: int | None = None
        self._watcher: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        if self._engine is not None:
            return
        if not self.path.parent.exists():
            raise StoreError(
                f"cannot open {self.path}: the folder {self.path.parent} does not exist"
            )
        engine = create_engine(f"sqlite:///{self.path}", poolclass=NullPool)
        busy_ms = self._busy_ms

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event, not the driver, open transactions.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            # WAL lets readers run beside the one writer; it is stored in the file.
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            write = conn.get_execution_options().get("baton_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        self._engine = engine
        self._writer = _Lane(engine, "sqlite-write", write=True)
        self._reader = _Lane(engine, "sqlite-read", write=False)
        try:
            await self._write(self._init_schema)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        loop = asyncio.get_running_loop()
        for lane in (self._writer, self._reader):
            if lane is not None:
                await loop.run_in_executor(lane.executor, lane.close)
                lane.executor.shutdown(wait=True)
        if self._engine is not None:
            self._engine.dispose()
        self._engine = self._writer = self._reader = None

    def _init_schema(self, conn: Connection) -> None:
        names = {
            r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if meta.name in names:
            if self._check_version(conn) < _sql.SCHEMA_VERSION:
                _migrate(conn)
            _sql.cursors.create(conn, checkfirst=True)  # added after version 1: additive
            _sql.breakers.create(conn, checkfirst=True)  # added in version 2: additive
            return
        foreign = sorted(n for n in names if not n.startswith("sqlite_"))
        if foreign:
            raise StoreVersionError(
                f"{self.path} is not a baton store (it holds the tables {', '.join(foreign)})"
            )
        _sql.metadata.create_all(conn)
        conn.execute(
            insert(meta),
            [
                {"key": "schema", "value": "baton"},
                {"key": "version", "value": str(_sql.SCHEMA_VERSION)},
            ],
        )

    def _check_version(self, conn: Connection) -> int:
        found = {key: value for key, value in conn.execute(select(meta.c.key, meta.c.value))}
        if found.get("schema") != "baton":
            raise StoreVersionError(f"{self.path} is not a baton store")
        version = int(found.get("version", "0"))
        if version > _sql.SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path} was written by a newer baton (schema version {version}; "
                f"this version reads up to {_sql.SCHEMA_VERSION}): upgrade baton"
            )
        return version

    async def _write(self, body: Callable[[Connection], T]) -> T:
        """Run ``body`` as one write transaction (BEGIN IMMEDIATE) on the write thread."""
        return await self._run(self._lane(self._writer), body)

    async def _read(self, body: Callable[[Connection], T]) -> T:
        """Run ``body`` in one read transaction on the read thread."""
        return await self._run(self._lane(self._reader), body)

    def _lane(self, lane: _Lane | None) -> _Lane:
        if lane is None:
            raise StoreError("the store is not open (use 'async with store')")
        return lane

    async def _run(self, lane: _Lane, body: Callable[[Connection], T]) -> T:
        def in_transaction() -> T:
            conn = lane.conn()
            with conn.begin():
                return body(conn)

        try:
            return await asyncio.get_running_loop().run_in_executor(lane.executor, in_transaction)
        except SQLAlchemyError as exc:
            raise _translate(exc, self.path) from exc

    async def check(self) -> StoreReport:
        """Facts about the file; a problem when ``PRAGMA quick_check`` finds it damaged,
        a warning when it is not in WAL mode (another program set it)."""
        damage = await self._read(
            lambda conn: [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check")]
        )
        if damage != ["ok"]:
            report = StoreReport(facts={"store": f"SQLite {sqlite3.sqlite_version} at {self.path}"})
            lines = [line for row in damage for line in row.splitlines()]
            report.problems.append(
                "the file is damaged (PRAGMA quick_check): " + "; ".join(lines[:5])
            )
            return report

        def body(conn: Connection) -> dict[str, str]:
            facts = {
                "journal mode": str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()),
                "schema version": str(
                    conn.execute(select(meta.c.value).where(meta.c.key == "version")).scalar()
                ),
                "schedules": str(
                    conn.execute(select(func.count()).select_from(schedules)).scalar()
                ),
                "runs": str(conn.execute(select(func.count()).select_from(runs)).scalar()),
                "events": str(conn.execute(select(func.count()).select_from(events)).scalar()),
            }
            for state in ("queued", "running", "retrying", "dead"):
                facts[f"runs {state}"] = str(
                    conn.execute(
                        select(func.count()).select_from(runs).where(runs.c.state == state)
                    ).scalar()
                )
            return facts

        facts = {
            "store": f"SQLite {sqlite3.sqlite_version} at {self.path}",
            **await self._read(body),
        }
        report = StoreReport(facts=facts)
        if facts["journal mode"] != "wal":
            report.warnings.append("the file is not in WAL mode: readers will wait for writers")
        return report

    async def now(self) -> datetime:
        return self._clock()

    def _emit(self, conn: Connection, items: Sequence[EventItem]) -> None:
        if items:
            at = self._clock()
            conn.execute(_INSERT_EVENTS, [_sql.event_row(k, s, d, at) for k, s, d in items])

    def _save_runs(self, conn: Connection, changed: Sequence[Run]) -> None:
        """Write the mutable columns of runs and append the event of each new state."""
        if not changed:
            return
        conn.execute(_SAVE_RUN, [_sql.run_changes(run) for run in changed])
        self._emit(conn, [_run_event(run) for run in changed])

    # -- schedules -----------------------------------------------------------------------

    async def _add_schedules(
        self, schedules: Sequence[Schedule], *, replace: bool
    ) -> list[Schedule]:
        def body(conn: Connection) -> list[Schedule]:
            ids = [s.id for s in schedules]
            old: dict[str, int] = {}
            for start in range(0, len(ids), _CHUNK):
                query = select(schedules_t.c.id, schedules_t.c.version).where(
                    schedules_t.c.id.in_(ids[start : start + _CHUNK])
                )
                old.update((sid, version) for sid, version in conn.execute(query))
            if old and not replace:
                raise ScheduleExistsError(next(i for i in ids if i in old))
            stored = [s.model_copy(update={"version": old.get(s.id, 0) + 1}) for s in schedules]
            for start in range(0, len(ids), _CHUNK):
                conn.execute(
                    delete(schedules_t).where(schedules_t.c.id.in_(ids[start : start + _CHUNK]))
                )
            if stored:
                conn.execute(insert(schedules_t), [_sql.schedule_row(s) for s in stored])
            self._emit(
                conn,
                [
                    (
                        ev.SCHEDULE_REPLACED if s.id in old else ev.SCHEDULE_ADDED,
                        s.id,
                        {"type": s.type},
                    )
                    for s in stored
                ],
            )
            return stored

        return await self._write(body)

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        def body(conn: Connection) -> Schedule | None:
            row = conn.execute(select(schedules).where(schedules.c.id == schedule_id)).first()
            return _sql.schedule_from_row(row) if row else None

        return await self._read(body)

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

        def body(conn: Connection) -> Page[Schedule]:
            rows = conn.execute(query).all()
            items = [_sql.schedule_from_row(r) for r in rows[:limit]]
            more = len(rows) > limit
            return Page[Schedule](items=items, next_cursor=items[-1].id if more else None)

        return await self._read(body)

    async def dependent_schedules(self) -> list[Schedule]:
        # Triggers are stored as sorted, compact JSON: an after trigger's text starts so.
        query = (
            select(schedules)
            .where(schedules.c.trigger.startswith('{"after":'))
            .order_by(schedules.c.id)
        )

        def body(conn: Connection) -> list[Schedule]:
            return [_sql.schedule_from_row(r) for r in conn.execute(query)]

        return await self._read(body)

    async def _remove_schedule(self, schedule_id: str, *, reason: str) -> bool:
        def body(conn: Connection) -> bool:
            result = conn.execute(delete(schedules).where(schedules.c.id == schedule_id))
            if result.rowcount == 0:
                return False
            self._emit(conn, [(ev.SCHEDULE_REMOVED, schedule_id, {"reason": reason})])
            return True

        return await self._write(body)

    async def _set_schedule_state(
        self, schedule_id: str, state: ScheduleState, *, next_fire_at: datetime | None
    ) -> Schedule | None:
        def body(conn: Connection) -> Schedule | None:
            result = conn.execute(
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
            paused = state is ScheduleState.PAUSED
            kind = ev.SCHEDULE_PAUSED if paused else ev.SCHEDULE_RESUMED
            self._emit(conn, [(kind, schedule_id, {})])
            row = conn.execute(select(schedules).where(schedules.c.id == schedule_id)).one()
            return _sql.schedule_from_row(row)

        return await self._write(body)

    async def next_fire_time(self) -> datetime | None:
        return await self._read(lambda conn: _sql.from_us(conn.execute(_NEXT_FIRE).scalar()))

    async def _fire_due(
        self, *, limit: int, planner: Planner, horizon: timedelta, claim: Claimant | None
    ) -> Fired:
        def body(conn: Connection) -> Fired:
            now = self._clock()
            until = now + horizon
            rows = conn.execute(_DUE_SCHEDULES, {"now": to_us(until), "limit": limit}).all()
            due = [_sql.schedule_from_row(r) for r in rows]
            created = self._commit_fires(conn, due, planner, now, until) if due else []
            known = {r.id: r for r in created}
            claimed = self._claim(conn, claim, until, known) if claim else []
            return Fired(created=created, claimed=claimed)

        return await self._write(body)

    def _commit_fires(
        self,
        conn: Connection,
        due: list[Schedule],
        planner: Planner,
        now: datetime,
        until: datetime,
    ) -> list[Run]:
        batch = _logic.plan_batch(due, planner, now, until)
        fired, finished = batch.fired, batch.finished
        if fired:
            conn.execute(
                update(schedules)
                .where(
                    schedules.c.id == bindparam("b_id"),
                    schedules.c.version == bindparam("b_version"),
                )
                .values(
                    state=bindparam("b_state"),
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
                        "b_state": s.state.value,
                        "b_next": to_us(s.next_fire_at),
                        "b_last": to_us(s.last_fire_at),
                    }
                    for s in fired
                ],
            )
        for start in range(0, len(finished), _CHUNK):
            chunk = finished[start : start + _CHUNK]
            conn.execute(delete(schedules).where(schedules.c.id.in_(chunk)))
        created = self._insert_new_runs(conn, batch.runs)
        self._emit(conn, batch.notes + [_run_event(r) for r in created])
        self._supersede(conn, batch.supersede, now)
        return created

    def _supersede(self, conn: Connection, pairs: list[tuple[str, str]], now: datetime) -> None:
        """Skip the earlier fires that new ones replace (``coalesce``), if still waiting."""
        if not pairs:
            return
        old = self._load_runs(conn, [old_id for old_id, _ in pairs])
        skipped = [
            done
            for old_id, new_id in pairs
            if old_id in old and (done := _logic.superseded(old[old_id], new_id, now))
        ]
        self._save_runs(conn, skipped)

    def _insert_new_runs(self, conn: Connection, candidates: list[Run]) -> list[Run]:
        if not candidates:
            return []
        existing: set[str] = set()
        ids = [r.id for r in candidates]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            existing |= set(conn.execute(select(runs.c.id).where(runs.c.id.in_(chunk))).scalars())
        created = [r for r in candidates if r.id not in existing]
        if created:
            conn.execute(
                sqlite_insert(runs).on_conflict_do_nothing(index_elements=["id"]),
                [_sql.run_row(r) for r in created],
            )
        return created

    # -- runs ------------------------------------------------------------------------------

    async def _enqueue_run(self, run: Run) -> tuple[Run, bool]:
        def body(conn: Connection) -> tuple[Run, bool]:
            if self._insert_new_runs(conn, [run]):
                self._emit(conn, [_run_event(run)])
                return run, True
            row = conn.execute(select(runs).where(runs.c.id == run.id)).one()
            return _sql.run_from_row(row), False

        return await self._write(body)

    async def _claim_runs(self, request: ClaimRequest) -> list[Run]:
        return await self._write(
            lambda conn: self._claim(conn, request, self._clock() + request.horizon)
        )

    def _claim(
        self,
        conn: Connection,
        who: Claimant,
        until: datetime,
        known: Mapping[str, Run] | None = None,
    ) -> list[Run]:
        """Claim in claim order; ``known`` holds runs already in memory (just fired)."""
        if who.limit <= 0:
            return []
        now = self._clock()
        picked: list[str] = []
        running: dict[str, int] = {}
        offset, page = 0, who.limit * 2 + 8
        query = _CLAIMABLE_PAGE if who.types is None else _CLAIMABLE_PAGE_OF_TYPES
        while len(picked) < who.limit:
            params: dict[str, Any] = {"now": to_us(until), "limit": page, "offset": offset}
            if who.types is not None:
                params["types"] = sorted(who.types)
            rows = conn.execute(query, params).all()
            sids = {r.schedule_id for r in rows if r.schedule_id is not None} - running.keys()
            if sids:
                running.update(dict.fromkeys(sids, 0))
                running.update(
                    (sid, n) for sid, n in conn.execute(_RUNNING_OF, {"sids": list(sids)})
                )
            for row in rows:
                if len(picked) >= who.limit:
                    break
                sid = row.schedule_id
                if sid is not None:
                    if running[sid] >= row.max_concurrent:
                        continue
                    running[sid] += 1
                picked.append(row.id)
            if len(rows) < page:
                break
            offset += page
        found = dict(known or {})
        found.update(self._load_runs(conn, [rid for rid in picked if rid not in found]))
        chosen = [
            _logic.claimed(found[rid], owner=who.owner, lease=who.lease, now=now) for rid in picked
        ]
        self._save_runs(conn, chosen)
        return chosen

    async def next_due_run_time(self) -> datetime | None:
        return await self._read(lambda conn: _sql.from_us(conn.execute(_NEXT_DUE).scalar()))

    async def extend_leases(
        self, *, owner: str, tokens: Mapping[str, str], lease: timedelta
    ) -> LeaseStatus:
        if not tokens:
            return LeaseStatus()

        def body(conn: Connection) -> LeaseStatus:
            expires = to_us(self._clock() + lease)
            rows = self._leased(conn, tokens)
            kept = [r.id for r in rows]
            for start in range(0, len(kept), _CHUNK):
                chunk = kept[start : start + _CHUNK]
                conn.execute(
                    update(runs).where(runs.c.id.in_(chunk)).values(lease_expires_at=expires)
                )
            cancel = {r.id for r in rows if r.cancel_requested}
            return LeaseStatus(kept=frozenset(kept), cancel_requested=frozenset(cancel))

        return await self._write(body)

    def _leased(self, conn: Connection, tokens: Mapping[str, str]) -> list[Run]:
        """The runs among ``tokens`` whose lease the token still holds."""
        found = self._load_runs(conn, list(tokens))
        return [run for rid, run in found.items() if self.holds(run, tokens[rid])]

    async def _complete_runs(self, completions: Sequence[Completion]) -> list[bool]:
        def body(conn: Connection) -> list[bool]:
            now = self._clock()
            current = self._load_runs(conn, [c.run_id for c in completions])
            changed: list[Run] = []
            results = []
            stops: list[tuple[str, str]] = []
            for completion in completions:
                run = current.get(completion.run_id)
                ok = self.holds(run, completion.lease_token)
                results.append(ok or self.recorded(run, completion.lease_token))
                if not ok or run is None:
                    continue
                done = _logic.completed(run, completion, now)
                current[run.id] = done
                changed.append(done)
                stop = completion.outcome.stop_schedule
                if stop is not None and run.schedule_id:
                    stops.append((run.schedule_id, stop))
            self._save_runs(conn, changed)
            for schedule_id, reason in stops:
                self._stop_schedule(conn, schedule_id, reason, now)
            return results

        return await self._write(body)

    def _stop_schedule(
        self, conn: Connection, schedule_id: str, reason: str, now: datetime
    ) -> None:
        result = conn.execute(delete(schedules).where(schedules.c.id == schedule_id))
        if result.rowcount:
            self._emit(conn, [(ev.SCHEDULE_REMOVED, schedule_id, {"reason": reason})])
        rows = conn.execute(
            select(runs).where(runs.c.schedule_id == schedule_id, runs.c.state.in_(_CLAIMABLE))
        ).all()
        note = f"schedule stopped: {reason}"
        self._save_runs(conn, [_logic.cancelled(_sql.run_from_row(r), note, now) for r in rows])

    def _load_runs(self, conn: Connection, ids: list[str]) -> dict[str, Run]:
        found: dict[str, Run] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = conn.execute(_RUNS_BY_ID, {"ids": ids[start : start + _CHUNK]}).all()
            found.update((r.id, _sql.run_from_row(r)) for r in rows)
        return found

    async def _release_runs(self, *, owner: str, tokens: Mapping[str, str]) -> int:
        def body(conn: Connection) -> int:
            released = [_logic.released(run) for run in self._leased(conn, tokens)]
            if released:
                conn.execute(_SAVE_RUN, [_sql.run_changes(run) for run in released])
            self._emit(conn, [(ev.RUN_RELEASED, r.id, {"node": owner}) for r in released])
            return len(released)

        return await self._write(body)

    async def _reap_expired(self, *, limit: int) -> list[Run]:
        def body(conn: Connection) -> list[Run]:
            now = self._clock()
            rows = conn.execute(
                select(runs)
                .where(
                    runs.c.state == RunState.RUNNING.value,
                    runs.c.lease_expires_at < to_us(now),
                )
                .order_by(runs.c.lease_expires_at)
                .limit(limit)
            ).all()
            reaped = [_logic.reaped(_sql.run_from_row(r), now) for r in rows]
            self._save_runs(conn, reaped)
            return reaped

        return await self._write(body)

    async def _cancel_run(self, run_id: str, *, reason: str) -> Run | None:
        def body(conn: Connection) -> Run | None:
            run = self._load_runs(conn, [run_id]).get(run_id)
            if run is None:
                return None
            new = _logic.cancelled(run, reason, self._clock())
            if new.state is RunState.CANCELLED and new is not run:
                self._save_runs(conn, [new])
            elif new is not run:
                conn.execute(
                    update(runs)
                    .where(runs.c.id == run_id)
                    .values(cancel_requested=True, note=reason)
                )
            return new

        return await self._write(body)

    async def _retry_run(
        self, run_id: str, *, reason: str, wait_until: datetime | None
    ) -> Run | None:
        def body(conn: Connection) -> Run | None:
            run = self._load_runs(conn, [run_id]).get(run_id)
            if run is None:
                return None
            new = _logic.retried(run, reason, self._clock(), wait_until)
            if new is not run:
                self._save_runs(conn, [new])
            return new

        return await self._write(body)

    async def _settle_waiting(self, run_id: str, *, release: bool, note: str) -> Run | None:
        def body(conn: Connection) -> Run | None:
            run = self._load_runs(conn, [run_id]).get(run_id)
            if run is None:
                return None
            new = _logic.settled(run, release=release, note=note, now=self._clock())
            if new is not run:
                self._save_runs(conn, [new])
            return new

        return await self._write(body)

    async def get_run(self, run_id: str) -> Run | None:
        def body(conn: Connection) -> Run | None:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).first()
            return _sql.run_from_row(row) if row else None

        return await self._read(body)

    async def list_runs(
        self, flt: RunFilter | None = None, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Run]:
        flt = flt or RunFilter()
        query = select(runs).order_by(runs.c.seq.desc()).limit(limit + 1)
        if flt.schedule_id is not None:
            query = query.where(runs.c.schedule_id == flt.schedule_id)
        if flt.type is not None:
            query = query.where(runs.c.type == flt.type)
        if len(flt.states) == 1:  # an equality lets SQLite use a partial index on the state
            (only,) = flt.states
            query = query.where(runs.c.state == only.value)
        elif flt.states:
            query = query.where(runs.c.state.in_([s.value for s in flt.states]))
        if flt.since is not None:
            query = query.where(runs.c.created_at >= to_us(flt.since))
        if cursor is not None:
            query = query.where(runs.c.seq < _logic.int_cursor(cursor))

        def body(conn: Connection) -> Page[Run]:
            rows = conn.execute(query).all()
            items = [_sql.run_from_row(r) for r in rows[:limit]]
            more = len(rows) > limit
            return Page[Run](items=items, next_cursor=str(rows[limit - 1].seq) if more else None)

        return await self._read(body)

    async def prune_runs(self, *, keep: int, older_than: timedelta) -> int:
        def body(conn: Connection) -> int:
            cutoff = to_us(self._clock() - older_than)
            finished = runs.c.state.in_(_FINISHED)
            by_age = conn.execute(delete(runs).where(finished, runs.c.finished_at < cutoff))
            surplus = (
                select(runs.c.seq)
                .where(finished)
                .order_by(runs.c.seq.desc())
                .limit(-1)
                .offset(keep)
                .scalar_subquery()
            )
            by_count = conn.execute(delete(runs).where(runs.c.seq.in_(surplus)))
            return by_age.rowcount + by_count.rowcount

        return await self._write(body)

    # -- circuit breakers ------------------------------------------------------------------

    async def _breaker(self, key: str) -> str | None:
        query = select(_sql.breakers.c.data).where(_sql.breakers.c.key == key)
        return await self._read(lambda conn: conn.execute(query).scalar())

    async def _all_breakers(self) -> list[str]:
        query = select(_sql.breakers.c.data)
        return await self._read(lambda conn: list(conn.execute(query).scalars()))

    async def _swap_breaker(self, key: str, expected: str | None, change: Change) -> bool:
        table = _sql.breakers
        data = change.breaker.model_dump_json()

        def body(conn: Connection) -> bool:
            current = conn.execute(select(table.c.data).where(table.c.key == key)).scalar()
            if current != expected:
                return False
            if current is None:
                conn.execute(insert(table).values(key=key, data=data))
            else:
                conn.execute(update(table).where(table.c.key == key).values(data=data))
            if change.event is not None:
                self._emit(conn, [change.event])
            return True

        return await self._write(body)

    # -- nodes and events ------------------------------------------------------------------

    async def heartbeat(self, node: NodeInfo) -> None:
        info = node.model_dump(mode="json", exclude={"heartbeat_at"})

        def body(conn: Connection) -> None:
            row = {
                "name": node.name,
                "info": json.dumps(info),
                "heartbeat_at": to_us(self._clock()),
            }
            stmt = sqlite_insert(nodes).values(row)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["name"],
                    set_={"info": stmt.excluded.info, "heartbeat_at": stmt.excluded.heartbeat_at},
                )
            )

        await self._write(body)

    async def stats(self) -> StoreStats:
        def body(conn: Connection) -> StoreStats:
            schedules = dict.fromkeys(ScheduleState, 0)
            query = select(schedules_t.c.state, func.count()).group_by(schedules_t.c.state)
            for state, count in conn.execute(query):
                schedules[ScheduleState(state)] = count
            unfinished = ("queued", "retrying", "running")
            query = (
                select(runs.c.state, func.count())
                .where(runs.c.state.in_(unfinished))
                .group_by(runs.c.state)
            )
            counts: dict[str, int] = {state: n for state, n in conn.execute(query)}
            return StoreStats(
                schedules=schedules,
                queued=counts.get("queued", 0) + counts.get("retrying", 0),
                running=counts.get("running", 0),
            )

        return await self._read(body)

    async def list_nodes(self) -> list[NodeInfo]:
        def body(conn: Connection) -> list[NodeInfo]:
            rows = conn.execute(select(nodes).order_by(nodes.c.name)).all()
            return [_sql.node_from_row(r) for r in rows]

        return await self._read(body)

    async def remove_node(self, name: str) -> None:
        await self._write(lambda conn: conn.execute(delete(nodes).where(nodes.c.name == name)))

    async def append_event(self, kind: str, subject: str, data: dict[str, Any]) -> Event:
        def body(conn: Connection) -> Event:
            at = self._clock()
            result = conn.execute(insert(events).values(_sql.event_row(kind, subject, data, at)))
            event_id = result.inserted_primary_key[0]  # type: ignore[index]
            return Event(id=str(event_id), kind=kind, at=at, subject=subject, data=data)

        return await self._write(body)

    async def read_events(self, *, after: str | None = None, limit: int = 100) -> list[Event]:
        query = select(events).order_by(events.c.id).limit(limit)
        if after is not None:
            query = query.where(events.c.id > _logic.int_cursor(after, "after"))

        def body(conn: Connection) -> list[Event]:
            return [_sql.event_from_row(r) for r in conn.execute(query).all()]

        return await self._read(body)

    async def last_event_id(self) -> str | None:
        def body(conn: Connection) -> str | None:
            top = conn.execute(select(func.max(events.c.id))).scalar()
            return None if top is None else str(top)

        return await self._read(body)

    async def load_cursor(self, name: str) -> str | None:
        def body(conn: Connection) -> str | None:
            query = select(_sql.cursors.c.event_id).where(_sql.cursors.c.name == name)
            found = conn.execute(query).scalar()
            return None if found is None else str(found)

        return await self._read(body)

    async def save_cursor(self, name: str, event_id: str) -> str:
        later = _logic.int_cursor(event_id, "event_id")

        def body(conn: Connection) -> str:
            table = _sql.cursors
            current = conn.execute(select(table.c.event_id).where(table.c.name == name)).scalar()
            if current is None:
                conn.execute(insert(table).values(name=name, event_id=later))
            elif current < later:
                conn.execute(update(table).where(table.c.name == name).values(event_id=later))
            return str(max(later, current or 0))

        return await self._write(body)

    async def prune_events(self, *, keep: int) -> int:
        def body(conn: Connection) -> int:
            top = conn.execute(select(func.max(events.c.id))).scalar() or 0
            return conn.execute(delete(events).where(events.c.id <= top - keep)).rowcount

        return await self._write(body)

    async def wait_for_change(
        self,
        max_wait: float,
        *,
        topics: Iterable[Topic] = TOPICS,
        since: Marker | None = None,
    ) -> bool:
        if self._watcher is None and self._reader is not None:
            self._watcher = asyncio.create_task(self._watch(), name="baton-sqlite-watch")
        return await super().wait_for_change(max_wait, topics=topics, since=since)

    async def _watch(self) -> None:
        """Turn other processes' commits into local wake-ups, while anyone is waiting.

        ``PRAGMA data_version`` moves when another connection commits, so it is read on
        the write connection: this process's own commits are made there and do not move
        it, and they already woke the right waiters.
        """
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._watch_interval)
            if not self._signal.waiters or self._writer is None:
                continue
            lane = self._writer
            try:
                version = await loop.run_in_executor(lane.executor, lane.data_version)
            except (SQLAlchemyError, sqlite3.Error):
                continue
            if self._data_version is not None and version != self._data_version:
                self._signal.bump()  # another process wrote: which topic is unknown
            self._data_version = version


def _migrate(conn: Connection) -> None:
    """Bring a file written by an older schema version to the current one, in place."""
    columns = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(baton_runs)")}
    if "lease_losses" not in columns:
        conn.exec_driver_sql(
            "ALTER TABLE baton_runs ADD COLUMN lease_losses INTEGER NOT NULL DEFAULT 0"
        )
    if "dependencies" not in columns:
        conn.exec_driver_sql("ALTER TABLE baton_runs ADD COLUMN dependencies TEXT")
    waiting = next(i for i in _sql.runs.indexes if i.name == "ix_baton_runs_waiting")
    waiting.create(conn, checkfirst=True)
    conn.execute(update(meta).where(meta.c.key == "version").values(value=str(_sql.SCHEMA_VERSION)))


def _run_event(run: Run) -> EventItem:
    kind, data = _logic.run_event(run)
    return kind, run.id, data


def _translate(exc: SQLAlchemyError, path: Path) -> StoreError:
    text = str(getattr(exc, "orig", None) or exc)
    if "file is not a database" in text:
        return StoreVersionError(f"{path} is not an SQLite database")
    if "locked" in text:
        return StoreError(f"{path} stayed locked by another process: {text}")
    return StoreError(f"SQLite error on {path}: {text}")
