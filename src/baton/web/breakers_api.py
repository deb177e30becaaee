"""``/admin/breakers``: the circuit breakers every node shares, and closing one by hand."""

from __future__ import annotations

from fastapi import APIRouter

from baton.model import Breaker
from baton.web.deps import Admin, BatonDep, Viewer
from baton.web.openapi import documented

router = APIRouter(prefix="/admin/breakers", tags=["breakers"], responses=documented(401, 403))


@router.get("", dependencies=[Viewer])
async def list_breakers(baton: BatonDep) -> list[Breaker]:
    """Every breaker, by key: closed, open (runs that meet it wait) or half_open (one
    probe run is out)."""
    return await baton.breakers()


@router.post("/{key:path}/reset", dependencies=[Admin], responses=documented(404))
async def reset_breaker(key: str, baton: BatonDep) -> Breaker:
    """Close the breaker now (``breaker.closed``): runs that wait on it go at their next
    try."""
    return await baton.reset_breaker(key, reason="reset through the API")
