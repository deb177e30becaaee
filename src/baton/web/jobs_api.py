"""``/admin/jobs``: schedules, listed, created, replaced, removed, triggered, paused."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Body, Query, Response

from baton.model import Page, Run, Schedule, ScheduleState
from baton.web.deps import Admin, BatonDep, Filter, RedactorDep, RunCursor, ScheduleId, Viewer
from baton.web.limits import StrictJSONRoute
from baton.web.openapi import RUN_LINKS, SCHEDULE_LINKS, documented
from baton.web.schemas import NewSchedule, ScheduleBody, TriggerBody

router = APIRouter(
    route_class=StrictJSONRoute, prefix="/admin/jobs", tags=["jobs"], responses=documented(401, 403)
)

_ONE = documented(404, 422)


@router.get("", dependencies=[Viewer], responses=documented(422))
async def list_jobs(
    baton: BatonDep,
    redactor: RedactorDep,
    type: Annotated[Filter, Query(description="Only this job type.")] = None,
    state: Annotated[ScheduleState | None, Query()] = None,
    id_prefix: Annotated[Filter, Query(description="Only ids starting with this.")] = None,
    cursor: Annotated[Filter, Query(description="next_cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[Schedule]:
    """Schedules by id, one page at a time."""
    page = await baton.list(type=type, state=state, id_prefix=id_prefix, cursor=cursor, limit=limit)
    return Page[Schedule](
        items=[redactor.schedule(s) for s in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "",
    status_code=201,
    dependencies=[Admin],
    responses={201: SCHEDULE_LINKS, **documented(400, 409, 422)},
)
async def create_job(
    body: NewSchedule, baton: BatonDep, redactor: RedactorDep, response: Response
) -> Schedule:
    """Create a schedule; 409 if the id is taken (PUT replaces)."""
    stored = await baton.add(
        body.type,
        id=body.id,
        trigger=body.trigger,
        payload=body.payload,
        policy=body.policy,
        paused=body.state is ScheduleState.PAUSED,
    )
    response.headers["Location"] = f"/admin/jobs/{quote(stored.id, safe=':@')}"
    return redactor.schedule(stored)


@router.get("/{schedule_id}/runs", dependencies=[Viewer], responses=documented(404, 422))
async def job_runs(
    schedule_id: ScheduleId,
    baton: BatonDep,
    redactor: RedactorDep,
    cursor: RunCursor = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[Run]:
    """The runs of one schedule, newest first."""
    await baton.get(schedule_id)
    page = await baton.runs(schedule_id=schedule_id, cursor=cursor, limit=limit)
    return Page[Run](items=[redactor.run(r) for r in page.items], next_cursor=page.next_cursor)


@router.post(
    "/{schedule_id}/trigger",
    status_code=202,
    dependencies=[Admin],
    responses={202: RUN_LINKS, **documented(400, 404, 422)},
)
async def trigger_job(
    schedule_id: ScheduleId,
    baton: BatonDep,
    redactor: RedactorDep,
    body: Annotated[TriggerBody | None, Body()] = None,
) -> Run:
    """Queue a run of the schedule now. With ``key``, a repeated request queues nothing more."""
    run = await baton.trigger(schedule_id, key=body.key if body else None)
    return redactor.run(run)


@router.post("/{schedule_id}/pause", dependencies=[Admin], responses=_ONE)
async def pause_job(schedule_id: ScheduleId, baton: BatonDep, redactor: RedactorDep) -> Schedule:
    """Stop firing until resumed."""
    return redactor.schedule(await baton.pause(schedule_id))


@router.post("/{schedule_id}/resume", dependencies=[Admin], responses=_ONE)
async def resume_job(schedule_id: ScheduleId, baton: BatonDep, redactor: RedactorDep) -> Schedule:
    """Fire again from the next tick after now (missed ticks are not run)."""
    return redactor.schedule(await baton.resume(schedule_id))


@router.get("/{schedule_id}", dependencies=[Viewer], responses=_ONE)
async def get_job(schedule_id: ScheduleId, baton: BatonDep, redactor: RedactorDep) -> Schedule:
    """One schedule."""
    return redactor.schedule(await baton.get(schedule_id))


@router.put(
    "/{schedule_id}",
    dependencies=[Admin],
    responses={
        200: SCHEDULE_LINKS,
        201: {"description": "Created", "model": Schedule, **SCHEDULE_LINKS},
        **documented(400, 422),
    },
)
async def put_job(
    schedule_id: ScheduleId,
    body: ScheduleBody,
    baton: BatonDep,
    redactor: RedactorDep,
    response: Response,
) -> Schedule:
    """Create or replace the schedule ``schedule_id`` (201 when created)."""
    stored = await baton.add(
        body.type,
        id=schedule_id,
        trigger=body.trigger,
        payload=body.payload,
        policy=body.policy,
        paused=body.state is ScheduleState.PAUSED,
        replace=True,
    )
    if stored.version == 1:
        response.status_code = 201
    return redactor.schedule(stored)


@router.delete("/{schedule_id}", status_code=204, dependencies=[Admin], responses=_ONE)
async def delete_job(
    schedule_id: ScheduleId,
    baton: BatonDep,
    with_dependents: Annotated[
        bool, Query(description="Also remove the schedules that run after it.")
    ] = False,
) -> Response:
    """Remove the schedule; its runs stay as history. A schedule that others run after is
    refused (409, naming them) unless ``with_dependents``."""
    await baton.remove(
        schedule_id, reason="removed through the API", with_dependents=with_dependents
    )
    return Response(status_code=204)
