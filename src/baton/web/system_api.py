"""Health, readiness, metrics, nodes and the live event stream."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from baton.app import Baton
from baton.errors import InvalidInputError
from baton.events import kind_matches
from baton.model import Event, RunState
from baton.web import metrics as metrics_mod
from baton.web.deps import BatonDep, EventId, Viewer
from baton.web.limits import StrictJSONRoute
from baton.web.openapi import documented
from baton.web.problems import problem_response
from baton.web.schemas import Health, NodeView

router = APIRouter(route_class=StrictJSONRoute, tags=["system"])

READY_TIMEOUT = 2.0
KEEPALIVE_SECONDS = 15.0
_EVENT_PAGE = 200


@router.get("/healthz")
async def healthz() -> Health:
    """The process answers (no token needed)."""
    return Health(status="ok")


@router.get("/readyz", responses=documented(503))
async def readyz(baton: BatonDep) -> Response:
    """The store answers within two seconds (no token needed)."""
    try:
        await asyncio.wait_for(baton.store.ping(), READY_TIMEOUT)
    except Exception as exc:
        return problem_response(503, f"the store does not answer: {exc or type(exc).__name__}")
    return Response(Health(status="ready").model_dump_json(), media_type="application/json")


@router.get(
    "/metrics",
    dependencies=[Viewer],
    response_class=Response,
    responses={
        200: {"content": {metrics_mod.CONTENT_TYPE: {"schema": {"type": "string"}}}},
        **documented(401, 403),
    },
)
async def metrics(request: Request, baton: BatonDep) -> Response:
    """Prometheus metrics: runs by type and outcome, durations, lateness, queue gauges."""
    registry: metrics_mod.Metrics = request.app.state.metrics
    stats, nodes, now, breakers = await asyncio.gather(
        baton.stats(), baton.nodes(), baton.store.now(), baton.breakers()
    )
    registry.set_gauges(stats, nodes, now, breakers)
    return Response(registry.render(), media_type=metrics_mod.CONTENT_TYPE)


@router.get("/admin/nodes", dependencies=[Viewer], tags=["nodes"], responses=documented(401, 403))
async def nodes(baton: BatonDep) -> list[NodeView]:
    """Every node heartbeating into the store, with the runs it is executing."""
    found, now = await asyncio.gather(baton.nodes(), baton.store.now())
    running = await baton.runs(state=RunState.RUNNING, limit=1000)
    by_owner: defaultdict[str, list[str]] = defaultdict(list)
    for run in running.items:
        by_owner[run.owner or ""].append(run.id)
    return [
        NodeView(
            **node.model_dump(),
            heartbeat_age=max((now - node.heartbeat_at).total_seconds(), 0.0),
            runs=by_owner.get(node.name, []),
        )
        for node in found
    ]


@router.get(
    "/admin/events",
    dependencies=[Viewer],
    tags=["events"],
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **documented(401, 403, 422),
    },
)
async def events(
    request: Request,
    baton: BatonDep,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", description="Resume after this event.")
    ] = None,
    after: EventId = None,
    kind: Annotated[str | None, Query(description="Only kinds matching, e.g. run.*")] = None,
) -> StreamingResponse:
    """Server-sent events from the store's event log, as they are appended.

    Each message's ``id`` is the event id: a client that reconnects with
    ``Last-Event-ID`` resumes right after the last event it saw.
    """
    start = last_event_id or after
    if start is not None:
        await _check_position(baton, start, "Last-Event-ID" if last_event_id else "after")
    else:
        start = await baton.store.last_event_id()
    poll = request.app.state.event_poll
    return StreamingResponse(
        _stream(request, baton, start, kind, poll),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _check_position(baton: Baton, event_id: str, field: str) -> None:
    """Refuse an event id this store never gave out, naming where it came from."""
    try:
        await baton.events(after=event_id, limit=1)
    except InvalidInputError as exc:
        raise InvalidInputError(exc.message, field=field) from None


async def _stream(
    request: Request, baton: Baton, position: str | None, kind: str | None, poll: float
) -> AsyncIterator[str]:
    yield "retry: 1000\n\n"
    quiet = 0.0
    while not await request.is_disconnected():
        batch = await baton.events(after=position, limit=_EVENT_PAGE)
        for event in batch:
            position = event.id
            if kind is None or kind_matches(kind, event.kind):
                yield _message(event)
                quiet = 0.0
        if len(batch) < _EVENT_PAGE:
            await asyncio.sleep(poll)
            quiet += poll
            if quiet >= KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": keep-alive\n\n"


def _message(event: Event) -> str:
    data = json.dumps(
        {
            "id": event.id,
            "kind": event.kind,
            "at": event.at.isoformat(),
            "subject": event.subject,
            "data": event.data,
        },
        separators=(",", ":"),
    )
    return f"id: {event.id}\nevent: {event.kind}\ndata: {data}\n\n"
