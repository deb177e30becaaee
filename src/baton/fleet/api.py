"""``/workers``: the fleet's HTTP routes, mounted in baton's admin API."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from baton import RunState
from baton.fleet.domain import MetricSample, Worker, WorkerStatus
from baton.fleet.errors import WorkerTerminatedError
from baton.fleet.registration import parse_tag_filters
from baton.web import Admin, StrictJSONRoute, Viewer, documented

if TYPE_CHECKING:
    from baton.fleet.service import Fleet

_ID = r"^[A-Za-z0-9._:-]{1,100}$"
_REGION = r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewWorker(_Body):
    instance_id: str = Field(pattern=r"^i-[0-9a-f]{8,32}$", examples=["i-0abc123def4567890"])
    region: str | None = Field(
        default=None, pattern=_REGION, description="Default: the fleet's region."
    )
    id: str | None = Field(default=None, pattern=_ID, description="Default: the instance id.")
    name: str | None = Field(default=None, max_length=255, description="Default: its Name tag.")


class ImportRequest(_Body):
    region: str | None = Field(default=None, pattern=_REGION, examples=["eu-west-1"])
    tags: list[str] = Field(
        default_factory=lambda: ["Name=cml-*"],
        description="KEY=VALUE[,VALUE] filters on instance tags; * matches anything.",
    )


class ImportReport(BaseModel):
    registered: list[Worker]
    already: list[str] = Field(description="Ids of workers registered before.")


class Metrics(BaseModel):
    worker_id: str
    samples: list[MetricSample]


class Refresh(BaseModel):
    worker_id: str
    run_id: str
    state: RunState
    due_at: datetime
    pending: bool = Field(description="The run has yet to finish.")


def fleet_router(fleet: Fleet) -> APIRouter:
    """The routes, bound to ``fleet``."""
    router = APIRouter(
        route_class=StrictJSONRoute,
        prefix="/workers",
        tags=["fleet"],
        responses=documented(401, 403),
    )

    @router.get("", dependencies=[Viewer], responses=documented(422))
    async def list_workers(status: Annotated[WorkerStatus | None, Query()] = None) -> list[Worker]:
        """Every registered worker, with its latest status and utilisation."""
        return await fleet.repository.list_workers(status=status)

    @router.post(
        "", status_code=201, dependencies=[Admin], responses=documented(400, 409, 422, 502)
    )
    async def register_worker(body: NewWorker, response: Response) -> Worker:
        """Register one EC2 instance as a worker and start monitoring it."""
        worker = await fleet.registration.register(
            body.instance_id, region=body.region, worker_id=body.id, name=body.name
        )
        response.headers["Location"] = f"/workers/{worker.id}"
        return worker

    @router.post("/import", dependencies=[Admin], responses=documented(400, 422, 502))
    async def import_workers(body: ImportRequest) -> ImportReport:
        """Register every instance matching the tag filters that is not terminated."""
        result = await fleet.registration.import_instances(
            region=body.region, filters=parse_tag_filters(body.tags)
        )
        return ImportReport(registered=result.registered, already=result.already)

    @router.get("/{worker_id}", dependencies=[Viewer], responses=documented(404, 422))
    async def get_worker(worker_id: str) -> Worker:
        """One worker."""
        return await fleet.repository.require(worker_id)

    @router.get("/{worker_id}/metrics", dependencies=[Viewer], responses=documented(404, 422))
    async def worker_metrics(
        worker_id: str, limit: Annotated[int, Query(ge=1, le=5000)] = 100
    ) -> Metrics:
        """The worker's metric history, newest first."""
        await fleet.repository.require(worker_id)
        return Metrics(
            worker_id=worker_id, samples=await fleet.repository.samples(worker_id, limit=limit)
        )

    @router.post(
        "/{worker_id}/refresh",
        status_code=202,
        dependencies=[Admin],
        responses=documented(404, 409, 422),
    )
    async def refresh_worker(worker_id: str) -> Refresh:
        """Collect now (at most one waiting collection per worker); says when it runs."""
        worker = await fleet.repository.require(worker_id)
        if worker.status is WorkerStatus.TERMINATED:
            raise WorkerTerminatedError(worker_id)
        await fleet.monitoring.start_monitoring(worker_id)  # a lost schedule comes back
        run = await fleet.monitoring.refresh(worker_id)
        return Refresh(
            worker_id=worker_id,
            run_id=run.id,
            state=run.state,
            due_at=run.due_at,
            pending=not run.state.finished,
        )

    @router.delete(
        "/{worker_id}", status_code=204, dependencies=[Admin], responses=documented(404, 422)
    )
    async def delete_worker(worker_id: str) -> Response:
        """Stop monitoring the worker and forget it."""
        await fleet.registration.remove(worker_id)
        return Response(status_code=204)

    return router
