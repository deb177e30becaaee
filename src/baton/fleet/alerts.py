"""Threshold alerts: raised once per crossing, delivered once per webhook URL.

A worker's CPU or memory at or above its threshold raises an alert and arms nothing
more until the value falls ``rearm_margin`` points below the threshold. An alert is an
event (``fleet.alert``) on baton's log; for every configured URL an event-started job
POSTs it, with retries, once overall however many nodes run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from baton import Job, NonRetryableError, RunContext, job
from baton.fleet.domain import Worker

ALERT_EVENT = "fleet.alert"
SIGNATURE_HEADER = "X-Baton-Signature"


@dataclass(frozen=True)
class Thresholds:
    cpu: float = 90.0
    memory: float = 90.0
    rearm_margin: float = 5.0


@dataclass(frozen=True)
class Alert:
    worker_id: str
    metric: str
    value: float
    threshold: float
    at: datetime

    def event_data(self, worker: Worker) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "worker_name": worker.name,
            "instance_id": worker.instance_id,
            "region": worker.region,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "at": self.at.isoformat(),
        }


def evaluate(
    worker: Worker,
    *,
    cpu: float | None,
    memory: float | None,
    thresholds: Thresholds,
    at: datetime,
) -> tuple[dict[str, bool], list[Alert]]:
    """New alerting flags for the worker, and the alerts its new values raise."""
    flags: dict[str, bool] = {}
    alerts: list[Alert] = []
    for metric, value, limit, alerting in (
        ("cpu", cpu, thresholds.cpu, worker.cpu_alerting),
        ("memory", memory, thresholds.memory, worker.memory_alerting),
    ):
        flag = f"{metric}_alerting"
        if value is None:
            continue
        if not alerting and value >= limit:
            flags[flag] = True
            alerts.append(Alert(worker.id, metric, value, limit, at))
        elif alerting and value < limit - thresholds.rearm_margin:
            flags[flag] = False
    return flags, alerts


def sign(secret: str, body: bytes) -> str:
    """The signature header value of a webhook body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` (for webhook receivers)."""
    return hmac.compare_digest(sign(secret, body), header)


def hook_name(url: str) -> str:
    """A stable name for the event job of one URL (run ids: ``<name>@event:<id>``)."""
    return "fleet-webhook-" + hashlib.sha256(url.encode()).hexdigest()[:12]


class WebhookSender:
    """POSTs alert bodies; one HTTP client for the process."""

    def __init__(self, *, secret: str | None, timeout: float = 10.0) -> None:
        self.secret = secret
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, url: str, body: dict[str, Any], *, delivery: str) -> None:
        raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
        headers = {"Content-Type": "application/json", "X-Baton-Delivery": delivery}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, raw)
        response = await self._client.post(url, content=raw, headers=headers)
        status = response.status_code
        if 200 <= status < 300:
            return
        message = f"{url} answered {status}"
        if 400 <= status < 500 and status not in (408, 425, 429):
            raise NonRetryableError(message)  # the request itself is refused: do not insist
        raise ConnectionError(message)


@job("fleet-alert-webhook")
class AlertWebhook(Job):
    """Deliver one alert to one URL (started by a ``fleet.alert`` event)."""

    url: str
    event_id: str
    alert: dict[str, Any]

    async def run(self, sender: WebhookSender, ctx: RunContext) -> None:
        body = {"kind": ALERT_EVENT, "event_id": self.event_id, "alert": self.alert}
        await sender.send(self.url, body, delivery=ctx.run_id)
