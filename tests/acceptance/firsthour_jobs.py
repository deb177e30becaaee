"""Job types for the first-hour tests: one that fails, one that ends its schedule."""

from __future__ import annotations

from baton import StopSchedule, job


@job("boom")
async def boom() -> None:
    raise RuntimeError("the printer is on fire")


@job("stop")
async def stop() -> None:
    raise StopSchedule("its worker was terminated")


@job("noop")
async def noop() -> None:
    return None
