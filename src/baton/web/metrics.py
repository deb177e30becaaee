"""Prometheus metrics of the whole cluster, as one API node sees it.

Counters and histograms are fed by a listener on the event log, so they count every
node's runs (scrape one API node, or take ``max`` over several: summing would count
each run once per API node). Gauges are read from the store at each scrape. Metrics
live in their own registry: nothing is global, and two apps in one process do not mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    exposition,
    generate_latest,
)

from baton.model import Breaker, BreakerState, Event, NodeInfo
from baton.store.base import StoreStats

CONTENT_TYPE = exposition.CONTENT_TYPE_LATEST

#: Event kind -> outcome label of ``baton_runs_total``.
_OUTCOMES = {
    "run.succeeded": "succeeded",
    "run.retrying": "retrying",
    "run.failed": "failed",
    "run.dead": "dead",
    "run.cancelled": "cancelled",
    "run.requeued": "lease_expired",
}
_LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


class Metrics:
    """baton's metrics in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Counter(
            "baton_runs",
            "Attempts that ended, by job type and outcome.",
            ["type", "outcome"],
            registry=r,
        )
        self.started = Counter(
            "baton_runs_started", "Attempts started, by job type.", ["type"], registry=r
        )
        self.duration = Histogram(
            "baton_run_duration_seconds",
            "How long attempts ran, by job type.",
            ["type"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.lateness = Histogram(
            "baton_run_lateness_seconds",
            "How late attempts started after their due time.",
            ["type"],
            buckets=_LATENESS_BUCKETS,
            registry=r,
        )
        self.events = Counter(
            "baton_events", "Events read from the log, by kind.", ["kind"], registry=r
        )
        self.queued = Gauge(
            "baton_runs_queued", "Runs waiting to be claimed (incl. retries).", registry=r
        )
        self.running = Gauge("baton_runs_running", "Runs leased to a node now.", registry=r)
        self.schedules = Gauge("baton_schedules", "Schedules by state.", ["state"], registry=r)
        self.heartbeat_age = Gauge(
            "baton_node_heartbeat_age_seconds",
            "Seconds since each node's last heartbeat.",
            ["node"],
            registry=r,
        )
        self.breakers = Gauge(
            "baton_breaker_state",
            "Circuit breakers: 1 for the state each key is in, 0 for the others.",
            ["key", "state"],
            registry=r,
        )

    def observe(self, event: Event) -> None:
        """Count one event of the log (the listener this app registers on ``*``)."""
        self.events.labels(kind=event.kind).inc()
        job_type = str(event.data.get("type", ""))
        if event.kind == "run.started":
            self.started.labels(type=job_type).inc()
            if "lateness" in event.data:
                self.lateness.labels(type=job_type).observe(float(event.data["lateness"]))
            return
        outcome = _OUTCOMES.get(event.kind)
        if outcome is None:
            return
        self.runs.labels(type=job_type, outcome=outcome).inc()
        if "duration" in event.data:
            self.duration.labels(type=job_type).observe(float(event.data["duration"]))

    def set_gauges(
        self,
        stats: StoreStats,
        nodes: list[NodeInfo],
        now: datetime,
        breakers: Sequence[Breaker] = (),
    ) -> None:
        """Set the gauges from what the store holds now."""
        self.queued.set(stats.queued)
        self.running.set(stats.running)
        for state, count in stats.schedules.items():
            self.schedules.labels(state=state.value).set(count)
        self.heartbeat_age.clear()  # nodes that left must not linger
        for node in nodes:
            age = (now - node.heartbeat_at).total_seconds()
            self.heartbeat_age.labels(node=node.name).set(max(age, 0.0))
        for breaker in breakers:
            for breaker_state in BreakerState:
                self.breakers.labels(key=breaker.key, state=breaker_state.value).set(
                    1 if breaker.state is breaker_state else 0
                )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
