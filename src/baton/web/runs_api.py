"""``/admin/runs``: the execution history, and retrying or cancelling one run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from baton.model import Page, Run, RunState
from baton.web.deps import Admin, BatonDep, Filter, RedactorDep, RunCursor, RunId, Since, Viewer
from baton.web.limits import StrictJSONRoute
from baton.web.openapi import RUN_LINKS, documented

router = APIRouter(
    route_class=StrictJSONRoute, prefix="/admin/runs", tags=["runs"], responses=documented(401, 403)
)


@router.get("", dependencies=[Viewer], responses=documented(422))
async def list_runs(
    baton: BatonDep,
    redactor: RedactorDep,
    job: Annotated[Filter, Query(description="Only runs of this schedule id.")] = None,
    type: Annotated[Filter, Query(description="Only runs of this job type.")] = None,
    state: Annotated[list[RunState] | None, Query(description="Repeatable.")] = None,
    since: Since = None,
    cursor: RunCursor = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Page[Run]:
    """Runs, newest first, one page at a time."""
    page = await baton.runs(
        schedule_id=job, type=type, state=state or None, since=since, cursor=cursor, limit=limit
    )
    return Page[Run](items=[redactor.run(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/{run_id}", dependencies=[Viewer], responses=documented(404, 422))
async def get_run(run_id: RunId, baton: BatonDep, redactor: RedactorDep) -> Run:
    """One run."""
    return redactor.run(await baton.get_run(run_id))


@router.post(
    "/{run_id}/retry",
    dependencies=[Admin],
    responses={200: RUN_LINKS, **documented(404, 409, 422)},
)
async def retry_run(run_id: RunId, baton: BatonDep, redactor: RedactorDep) -> Run:
    """One more attempt of a failed, dead or cancelled run; a queued or running run is
    returned as it is; 409 for a run that succeeded."""
    return redactor.run(await baton.retry_run(run_id, reason="retry requested through the API"))


@router.post(
    "/{run_id}/cancel",
    dependencies=[Admin],
    responses={200: RUN_LINKS, **documented(404, 409, 422)},
)
async def cancel_run(run_id: RunId, baton: BatonDep, redactor: RedactorDep) -> Run:
    """Cancel a queued run at once, or ask the node running it to stop; a cancelled run
    is returned as it is; 409 for a run that succeeded, failed or died."""
    return redactor.run(await baton.cancel_run(run_id, reason="cancelled through the API"))
