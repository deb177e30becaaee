"""Workers and their metric history in a SQL database, on SQLAlchemy 2 async.

Updates are optimistic: a writer passes the version it read, and the update applies
only if the row still has it (else :class:`StaleWorkerError`). Datetimes are stored as
integer microseconds since the epoch (UTC), so that every database compares them alike.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from baton.fleet.domain import MetricSample, Worker, WorkerStatus
from baton.fleet.errors import StaleWorkerError, WorkerExistsError, WorkerNotFoundError

metadata = MetaData()

workers = Table(
    "fleet_workers",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("region", String(64), nullable=False),
    Column("instance_id", String(64), nullable=False, unique=True),
    Column("instance_type", String(64)),
    Column("ami", String(64)),
    Column("tags", Text, nullable=False),
    Column("public_ip", String(64)),
    Column("private_ip", String(64)),
    Column("status", String(32), nullable=False),
    Column("cpu_utilization", Float),
    Column("memory_utilization", Float),
    Column("cpu_alerting", Boolean, nullable=False),
    Column("memory_alerting", Boolean, nullable=False),
    Column("last_collected_at", BigInteger),
    Column("created_at", BigInteger, nullable=False),
    Column("terminated_at", BigInteger),
    Column("version", Integer, nullable=False),
    Index("ix_fleet_workers_status", "status"),
)

samples = Table(
    "fleet_metric_samples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("worker_id", String(200), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("status", String(32), nullable=False),
    Column("cpu_utilization", Float),
    Column("memory_utilization", Float),
    Index("ix_fleet_samples_worker", "worker_id", "at"),
)


def _us(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return round(moment.astimezone(UTC).timestamp() * 1_000_000)


def _dt(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def _row(worker: Worker) -> dict[str, Any]:
    data = worker.model_dump()
    data["tags"] = json.dumps(worker.tags, sort_keys=True)
    data["status"] = worker.status.value
    for name in ("last_collected_at", "created_at", "terminated_at"):
        data[name] = _us(getattr(worker, name))
    return data


def _worker(row: Any) -> Worker:
    data = dict(row._mapping)
    data["tags"] = json.loads(data["tags"])
    for name in ("last_collected_at", "created_at", "terminated_at"):
        data[name] = _dt(data[name])
    return Worker.model_validate(data)


class WorkerRepository:
    """Workers and metric samples. Open with :meth:`open` (creates the tables)."""

    def __init__(self, url: str, *, keep_samples: int = 2016) -> None:
        self.url = url
        self.keep_samples = keep_samples
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the worker repository is not open")
        return self._engine

    async def open(self) -> None:
        sqlite = self.url.startswith("sqlite")
        # One connection for SQLite: writers queue in the pool instead of failing with
        # "database is locked"; other databases get a normal pool.
        options: dict[str, Any] = {"pool_size": 1, "max_overflow": 0} if sqlite else {}
        self._engine = create_async_engine(self.url, **options)
        if sqlite:
            event.listen(self._engine.sync_engine, "connect", _sqlite_pragmas)
        async with self._engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def add(self, worker: Worker) -> Worker:
        """Insert a new worker; :class:`WorkerExistsError` if its id or instance is taken."""
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(workers).values(_row(worker)))
        except IntegrityError:
            raise WorkerExistsError(f"id {worker.id!r} or instance {worker.instance_id}") from None
        return worker

    async def get(self, worker_id: str) -> Worker | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(workers).where(workers.c.id == worker_id))).first()
        return _worker(row) if row else None

    async def require(self, worker_id: str) -> Worker:
        found = await self.get(worker_id)
        if found is None:
            raise WorkerNotFoundError(worker_id)
        return found

    async def by_instance(self, instance_ids: Sequence[str]) -> dict[str, Worker]:
        """Workers by EC2 instance id, for the given ids."""
        if not instance_ids:
            return {}
        query = select(workers).where(workers.c.instance_id.in_(list(instance_ids)))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {w.instance_id: w for w in map(_worker, rows)}

    async def list_workers(
        self, *, status: WorkerStatus | None = None, exclude_terminated: bool = False
    ) -> list[Worker]:
        query = select(workers).order_by(workers.c.id)
        if status is not None:
            query = query.where(workers.c.status == status.value)
        if exclude_terminated:
            query = query.where(workers.c.status != WorkerStatus.TERMINATED.value)
        async with self.engine.connect() as conn:
            return [_worker(row) for row in (await conn.execute(query)).all()]

    async def save(self, worker: Worker, sample: MetricSample | None = None) -> Worker:
        """Write ``worker`` over the stored one if that is still at ``worker.version``;
        the stored version becomes ``worker.version + 1``. A sample is recorded in the
        same transaction, and the worker's oldest samples beyond the limit are dropped."""
        stored = worker.model_copy(update={"version": worker.version + 1})
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(workers)
                .where(workers.c.id == worker.id, workers.c.version == worker.version)
                .values(_row(stored))
            )
            if result.rowcount != 1:
                exists = await conn.execute(select(workers.c.id).where(workers.c.id == worker.id))
                if exists.first() is None:
                    raise WorkerNotFoundError(worker.id)
                raise StaleWorkerError(worker.id, worker.version)
            if sample is not None:
                await self._record(conn, sample)
        return stored

    async def _record(self, conn: Any, sample: MetricSample) -> None:
        await conn.execute(
            insert(samples).values(
                worker_id=sample.worker_id,
                at=_us(sample.at),
                status=sample.status.value,
                cpu_utilization=sample.cpu_utilization,
                memory_utilization=sample.memory_utilization,
            )
        )
        cutoff = (
            select(samples.c.id)
            .where(samples.c.worker_id == sample.worker_id)
            .order_by(samples.c.at.desc(), samples.c.id.desc())
            .offset(self.keep_samples)
            .limit(1)
        )
        oldest_kept = (await conn.execute(cutoff)).scalar()
        if oldest_kept is not None:
            await conn.execute(
                delete(samples).where(
                    samples.c.worker_id == sample.worker_id, samples.c.id <= oldest_kept
                )
            )

    async def remove(self, worker_id: str) -> bool:
        """Delete a worker and its samples; False if there was none."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(samples).where(samples.c.worker_id == worker_id))
            result = await conn.execute(delete(workers).where(workers.c.id == worker_id))
        return bool(result.rowcount)

    async def samples(self, worker_id: str, *, limit: int = 100) -> list[MetricSample]:
        """The worker's newest samples, newest first."""
        query = (
            select(samples)
            .where(samples.c.worker_id == worker_id)
            .order_by(samples.c.at.desc(), samples.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            MetricSample(
                worker_id=r.worker_id,
                at=datetime.fromtimestamp(r.at / 1_000_000, UTC),
                status=WorkerStatus(r.status),
                cpu_utilization=r.cpu_utilization,
                memory_utilization=r.memory_utilization,
            )
            for r in rows
        ]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
