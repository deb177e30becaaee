"""baton.fleet: monitor a fleet of CML workers on EC2, built on baton's public API.

Each registered worker has a baton schedule (``worker-metrics:<worker id>``) whose runs
read the instance's EC2 state and CloudWatch utilisation, batched across concurrent
runs, update the worker, and raise threshold alerts delivered once per webhook URL.
"""

from baton.fleet.alerts import AlertWebhook, Thresholds, sign, verify
from baton.fleet.aws import AwsGateway, Utilization
from baton.fleet.collect import FleetEvents, WorkerMetricsCollectionJob
from baton.fleet.domain import InstanceInfo, MetricSample, Worker, WorkerStatus, status_from_ec2
from baton.fleet.monitoring import WorkerMonitoringScheduler, schedule_id
from baton.fleet.registration import WorkerRegistration, parse_tag_filters
from baton.fleet.repository import WorkerRepository
from baton.fleet.service import FLEET_JOBS, Fleet
from baton.fleet.settings import FleetSettings

__all__ = [
    "FLEET_JOBS",
    "AlertWebhook",
    "AwsGateway",
    "Fleet",
    "FleetEvents",
    "FleetSettings",
    "InstanceInfo",
    "MetricSample",
    "Thresholds",
    "Utilization",
    "Worker",
    "WorkerMetricsCollectionJob",
    "WorkerMonitoringScheduler",
    "WorkerRegistration",
    "WorkerRepository",
    "WorkerStatus",
    "parse_tag_filters",
    "schedule_id",
    "sign",
    "status_from_ec2",
    "verify",
]
