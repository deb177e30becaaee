"""The fleet through an EC2 outage, with and without its per-region circuit breaker.

    python benchmarks/bench_fleet_outage.py [--workers 200] [--quick] [--out docs/benchmarks.md]

A moto server holds the instances; the fleet reaches it through a small HTTP proxy in
this process that answers every EC2 call with 503 during the outage. Time is compressed:
workers are polled every 10 s (standing for 300 s) and EC2 fails for 100 s (standing for
50 minutes, ten sweeps). Measured: the AWS calls the fleet made during the outage
(botocore's before-call hook, so failed calls count), what became of the runs fired
during it, and how long after EC2 came back the first poll succeeded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_fleet import moto_holding  # noqa: E402

SECTION = "## Fleet: an EC2 outage, with and without the region breaker"
INTERVAL = 10.0
WARM = 15.0
OUTAGE = 100.0
AFTER = 25.0

_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
    "<Code>ServiceUnavailable</Code><Message>outage (benchmark)</Message>"
    "</Error></Errors><RequestID>bench</RequestID></Response>"
)


class FlakyProxy:
    """Forwards to moto; while ``down``, answers EC2 calls with 503."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.down = False
        self.url = ""
        self._runner: Any = None
        self._session: Any = None

    async def __aenter__(self) -> FlakyProxy:
        from aiohttp import ClientSession, web

        self._session = ClientSession()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()
        await self._runner.cleanup()

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.read()
        if self.down and b"Action=Describe" in body:
            return web.Response(status=503, text=_ERROR, content_type="text/xml")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as upstream:
            data = await upstream.read()
            kept = {
                k: v
                for k, v in upstream.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
            }
            return web.Response(status=upstream.status, body=data, headers=kept)


async def through_outage(moto: str, count: int, breaker: bool, folder: Path) -> dict[str, Any]:
    from tests.fleet.conftest import REGION

    from baton import Baton, NodeConfig, RunState
    from baton.fleet import FLEET_JOBS, Fleet, FleetSettings

    async with FlakyProxy(moto) as proxy:
        store = f"sqlite:///{folder}/baton.db"
        settings = FleetSettings(
            aws_endpoint_url=proxy.url,
            region=REGION,
            db_url=f"sqlite+aiosqlite:///{folder}/fleet.db",
            poll_interval=INTERVAL,
            poll_jitter=1.0,
            breaker=breaker,
            breaker_cooldown=INTERVAL,
        )
        fleet = Fleet(settings, store_url=store)
        node = NodeConfig(concurrency=count, max_idle=timedelta(seconds=0.5))
        baton = Baton(store=store, jobs=FLEET_JOBS, container=fleet.container, node=node)
        fleet.attach(baton)
        async with fleet, baton:
            await fleet.registration.import_instances(
                region=REGION, filters={"tag:Name": ["cml-*"]}
            )
            serving = asyncio.create_task(baton.serve(handle_signals=False))
            await asyncio.sleep(WARM)
            before = sum(fleet.aws.calls.values())
            down_at = await baton.store.now()
            proxy.down = True
            await asyncio.sleep(OUTAGE)
            proxy.down = False
            up_at = await baton.store.now()
            during = sum(fleet.aws.calls.values()) - before
            recovered = await _first_success_after(baton, up_at, within=AFTER)
            runs = await _runs_between(baton, down_at, up_at)
            baton.stop()
            await serving
    states = {state.value: sum(1 for r in runs if r.state is state) for state in RunState}
    return {
        "calls": during,
        "runs": len(runs),
        "states": {k: v for k, v in states.items() if v},
        "recovered_s": recovered,
    }


async def _first_success_after(baton: Any, moment: datetime, within: float) -> float | None:
    from baton import RunState

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        page = await baton.runs(state=RunState.SUCCEEDED, since=moment, limit=1000)
        done = [r.finished_at for r in page.items if r.finished_at and r.finished_at > moment]
        if done:
            return round((min(done) - moment).total_seconds(), 1)
        await asyncio.sleep(0.25)
    return None


async def _runs_between(baton: Any, start: datetime, end: datetime) -> list[Any]:
    runs: list[Any] = []
    cursor = None
    while True:
        page = await baton.runs(since=start, cursor=cursor, limit=1000)
        runs += [r for r in page.items if r.fire_at < end]
        if not (cursor := page.next_cursor):
            return runs


def render(results: dict[str, dict[str, Any]], count: int) -> str:
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} "
        f"cores, Python {platform.python_version()}, by `python benchmarks/bench_fleet_outage.py`. "
        f"{count:,} workers in a moto server, polled every {INTERVAL:.0f} s (standing for the "
        f"default 300 s: time runs 30x faster), batched calls, retries 3; EC2 answers 503 for "
        f"{OUTAGE:.0f} s (standing for 50 minutes: ten sweeps). Breaker: 5 failures in 60 s "
        f"open it, one probe per {INTERVAL:.0f} s.",
        "",
        "| mode | AWS calls during the outage | runs fired during it | their states | "
        "first success after EC2 is back |",
        "|---|---:|---:|---|---:|",
    ]
    for mode, r in results.items():
        states = ", ".join(f"{k} {v}" for k, v in sorted(r["states"].items()))
        back = "-" if r["recovered_s"] is None else f"{r['recovered_s']} s"
        lines.append(f"| {mode} | {r['calls']:,} | {r['runs']:,} | {states} | {back} |")
    lines += [
        "",
        "Without the breaker every poll of the outage reaches EC2 and fails three times "
        "(batched, so a few calls carry many workers' failures) and the runs end dead. "
        "With it, the region's breaker opens after five failed polls; the polls that meet it "
        "wait (queued, no attempt spent; coalesced into their schedule's newest fire, so "
        "they end skipped rather than piling up) and one probe per cool-down reaches EC2.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="50 workers, no doc update")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    count = 50 if args.quick else args.workers
    results: dict[str, dict[str, Any]] = {}
    for mode, breaker in (("no breaker", False), ("breaker per region", True)):
        with moto_holding(count) as endpoint, tempfile.TemporaryDirectory() as tmp:
            results[mode] = asyncio.run(through_outage(endpoint, count, breaker, Path(tmp)))
        print(mode, results[mode], flush=True)
    table = render(results, count)
    print(table)
    if not args.quick:
        from benchmarks.bench_sqlite import write_section

        write_section(Path(args.out), table, SECTION)


if __name__ == "__main__":
    main()
