"""Job types for the multi-process tests, imported by `baton worker --import`.

Each execution appends "run_id attempt node" to a file per process in
$BATON_TEST_LOG_DIR, so a test can see every execution, including those of a process
it killed.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import BaseModel

from baton import RunContext, job


class Tick(BaseModel):
    n: int
    seconds: float = 0.0


@job("tick")
async def tick(payload: Tick, ctx: RunContext) -> None:
    log_dir = Path(os.environ["BATON_TEST_LOG_DIR"])
    with open(log_dir / f"{os.getpid()}.log", "a") as out:
        out.write(f"start {ctx.run_id} {ctx.attempt} {ctx.node}\n")
    await asyncio.sleep(payload.seconds)
    with open(log_dir / f"{os.getpid()}.log", "a") as out:
        out.write(f"done {ctx.run_id} {ctx.attempt} {ctx.node}\n")
