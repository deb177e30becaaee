"""A job whose client is injected for each run from a dishka container, never stored.

Embedded, in your own process (from the repository's root)::

    python examples/injected.py

Under the command line, with the same job types and the same container::

    baton --import examples.injected jobs add worker-metrics --id worker-metrics:w-9-gone \\
          --payload '{"worker_id": "w-9-gone"}' --every 10s
    baton --import examples.injected worker --container examples.injected:make_container

The README's first example is this file.
"""

import asyncio

from dishka import AsyncContainer, Provider, Scope, make_async_container, provide

from baton import Baton, Job, StopSchedule, job


class EC2Client:  # stands in for your real client (aiobotocore, httpx...)
    async def state(self, instance_id: str) -> str:
        return "terminated" if instance_id.endswith("-gone") else "running"


@job("worker-metrics")
class WorkerMetrics(Job):
    worker_id: str  # the payload: all that is stored

    async def run(self, ec2: EC2Client) -> None:  # injected per run, never stored
        if await ec2.state(self.worker_id) == "terminated":
            raise StopSchedule("worker terminated")  # ends its own schedule


class Clients(Provider):
    ec2 = provide(EC2Client, scope=Scope.APP)


def make_container() -> AsyncContainer:  # baton worker --container module:make_container
    return make_async_container(Clients())


async def main() -> None:
    container = make_container()
    async with Baton(jobs=[WorkerMetrics], container=container) as baton:
        await baton.add(
            WorkerMetrics(worker_id="w-1"),
            id="worker-metrics:w-1",
            trigger={"interval": {"seconds": 300, "jitter": 10}},
            replace=True,
        )
        await baton.trigger("worker-metrics:w-1")  # once now, then every 5 minutes
        await baton.serve()  # the node, until Ctrl-C
    await container.close()


if __name__ == "__main__":
    asyncio.run(main())
