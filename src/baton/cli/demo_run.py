"""What ``baton demo`` runs once its command line is read: the simulated fleet, the
node with the fleet and the API, and the demo's own webhook receiver."""

from __future__ import annotations

import asyncio
import os
import signal

from fastapi import FastAPI, Request
from rich.markup import escape

from baton.cli.context import CliState, err_console
from baton.cli.nodes import run_node
from baton.fleet import Fleet, FleetSettings
from baton.fleet.simulate import SimulatedFleet
from baton.node import NodeConfig
from baton.web import ApiTokens

REGION = "eu-west-1"


async def run_demo(
    cli: CliState,
    config: NodeConfig,
    *,
    tokens: ApiTokens,
    token: str,
    host: str,
    port: int,
    settings: FleetSettings,
    count: int,
    terminate_after: float,
    duration: float | None,
) -> None:
    endpoint = settings.aws_endpoint_url or ""
    async with SimulatedFleet(endpoint, REGION, seed=7) as simulated:
        await simulated.launch(count)
        feeding = asyncio.create_task(simulated.feed_every(5.0))
        side: list[asyncio.Task[None]] = [feeding]

        def started(url: str) -> None:
            err_console.print(
                f"\n[bold]baton demo[/]: {count} simulated CML workers, polled "
                f"every {settings.poll_interval:g} s"
            )
            err_console.print(f"  API     {escape(url)}   (docs: {escape(url)}/docs)")
            err_console.print(f"  token   {escape(token)}")
            err_console.print(
                escape(f"  try     curl -H 'Authorization: Bearer {token}' {url}/workers")
            )
            side.append(asyncio.create_task(_terminate_later(simulated, terminate_after)))
            if duration is not None:
                side.append(asyncio.create_task(_stop_after(duration)))

        try:
            await run_node(
                cli,
                config,
                tokens=tokens,
                host=host,
                port=port,
                fleet=settings,
                on_started=started,
                configure_app=_demo_routes,
                before_serve=_import_fleet,
            )
        finally:
            for task in side:
                task.cancel()
            await asyncio.gather(*side, return_exceptions=True)


async def _import_fleet(fleet: Fleet) -> None:
    result = await fleet.registration.import_instances(
        region=REGION, filters={"tag:Name": ["cml-*"]}
    )
    err_console.print(f"fleet: imported {len(result.registered)} workers tagged Name=cml-*")


def _demo_routes(app: FastAPI) -> None:
    @app.post("/demo/webhook", include_in_schema=False)
    async def webhook(request: Request) -> dict[str, str]:
        """Where the demo's alerts are delivered: printed to the console."""
        body = await request.json()
        alert = body.get("alert", {})
        err_console.print(
            "[bold red]alert[/] "
            + escape(
                f"{alert.get('worker_name')} ({alert.get('worker_id')}): "
                f"{alert.get('metric')} {alert.get('value')} % >= {alert.get('threshold')} %"
            )
        )
        return {"status": "received"}


async def _terminate_later(simulated: SimulatedFleet, after: float) -> None:
    await asyncio.sleep(after)
    victim = await simulated.terminate_last()
    err_console.print(
        f"demo: terminated instance {escape(str(victim))}; its next poll ends its own schedule"
    )


async def _stop_after(seconds: float) -> None:
    await asyncio.sleep(seconds)
    os.kill(os.getpid(), signal.SIGTERM)  # the same path as Ctrl-C: a graceful stop
