"""The fleet assembled: settings, repository, AWS, events, webhooks, and their wiring
into a :class:`baton.Baton` (job types, dependency container, event-started jobs)."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self, TypeVar

from dishka import AsyncContainer, Provider, Scope, from_context, make_async_container
from fastapi import APIRouter

from baton import Baton, Event
from baton.fleet.alerts import ALERT_EVENT, AlertWebhook, WebhookSender, hook_name
from baton.fleet.api import fleet_router
from baton.fleet.aws import AwsGateway
from baton.fleet.collect import FleetEvents, WorkerMetricsCollectionJob
from baton.fleet.monitoring import WorkerMonitoringScheduler
from baton.fleet.registration import WorkerRegistration
from baton.fleet.repository import WorkerRepository
from baton.fleet.settings import FleetSettings

#: The fleet's job types, to register in the Baton that runs them.
FLEET_JOBS = (WorkerMetricsCollectionJob, AlertWebhook)


class _Services(Provider):
    """Everything a fleet job may ask for, one instance per process."""

    scope = Scope.APP
    settings = from_context(provides=FleetSettings)
    repository = from_context(provides=WorkerRepository)
    aws = from_context(provides=AwsGateway)
    events = from_context(provides=FleetEvents)
    webhooks = from_context(provides=WebhookSender)


class Fleet:
    """The fleet application over one Baton.

    ::

        fleet = Fleet(FleetSettings(), store_url=url)
        baton = Baton(store=url, jobs=FLEET_JOBS, container=fleet.container)
        fleet.attach(baton)
        async with fleet, baton:
            await fleet.monitoring.reconcile()
    """

    def __init__(self, settings: FleetSettings, *, store_url: str) -> None:
        self.settings = settings
        self.repository = WorkerRepository(
            settings.database_url(store_url), keep_samples=settings.keep_samples
        )
        self.aws = AwsGateway(
            default_region=settings.region,
            endpoint_url=settings.aws_endpoint_url,
            batching=settings.batching,
            window=settings.batch_window,
        )
        self.events = FleetEvents()
        self.webhooks = WebhookSender(secret=settings.webhook_secret)
        self.container: AsyncContainer = make_async_container(
            _Services(),
            context={
                FleetSettings: settings,
                WorkerRepository: self.repository,
                AwsGateway: self.aws,
                FleetEvents: self.events,
                WebhookSender: self.webhooks,
            },
        )
        self._baton: Baton | None = None
        self._monitoring: WorkerMonitoringScheduler | None = None
        self._registration: WorkerRegistration | None = None

    def attach(self, baton: Baton) -> None:
        """Publish events on ``baton``'s log and deliver alerts through its event jobs.

        Call before the Baton's node starts (event jobs are read when it starts).
        """
        self._baton = baton
        self.events.attach(baton.emit)
        self._monitoring = WorkerMonitoringScheduler(baton, self.repository, self.settings)
        self._registration = WorkerRegistration(
            repository=self.repository,
            aws=self.aws,
            monitoring=self._monitoring,
            events=self.events,
        )
        for url in map(str, self.settings.webhook_urls):
            baton.on_event(
                ALERT_EVENT,
                AlertWebhook,
                name=hook_name(url),
                payload=_alert_payload(url),
                policy={"retry": {"max_attempts": 6, "backoff": 1.0, "backoff_max": 60.0}},
            )

    @property
    def baton(self) -> Baton:
        return _attached(self._baton)

    @property
    def monitoring(self) -> WorkerMonitoringScheduler:
        return _attached(self._monitoring)

    @property
    def registration(self) -> WorkerRegistration:
        return _attached(self._registration)

    def router(self) -> APIRouter:
        """The ``/workers`` routes, to include in the admin API."""
        return fleet_router(self)

    async def __aenter__(self) -> Self:
        await self.repository.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.container.close()
            await self.aws.close()
            await self.webhooks.close()
        finally:
            await self.repository.close()


T = TypeVar("T")


def _attached(part: T | None) -> T:
    if part is None:
        raise RuntimeError("the fleet is not attached to a Baton (call attach first)")
    return part


def _alert_payload(url: str) -> Any:
    def payload(event: Event) -> dict[str, Any]:
        return {"url": url, "event_id": event.id, "alert": event.data}

    return payload
