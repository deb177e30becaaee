"""The fleet's configuration (``BATON_FLEET_*``); AWS credentials and region come from
the standard AWS settings (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``, ``AWS_REGION``...)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, HttpUrl, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class FleetSettings(BaseSettings):
    """What the fleet reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="BATON_FLEET_", extra="ignore")

    db_url: str | None = None
    """SQLAlchemy async URL of the fleet's database; default: a SQLite file next to
    baton's store (``baton-fleet.db``)."""
    poll_interval: float = Field(default=300.0, ge=1.0, le=86_400.0)
    """Seconds between two collections of one worker (worker_metrics_poll_interval)."""
    poll_jitter: float | None = Field(default=None, ge=0.0)
    """Random delay added to each poll, in seconds; default a tenth of the interval."""
    cpu_threshold: float = Field(default=90.0, gt=0.0, le=100.0)
    memory_threshold: float = Field(default=90.0, gt=0.0, le=100.0)
    rearm_margin: float = Field(default=5.0, ge=0.0, le=100.0)
    """An alert is raised again only after the value fell this many points below."""
    webhook_urls: Annotated[list[HttpUrl], NoDecode] = Field(default_factory=list)
    """Where alerts are POSTed (comma-separated in the environment)."""
    webhook_secret: str | None = None
    """When set, each webhook body is signed: ``X-Baton-Signature: sha256=<hmac>``."""
    aws_endpoint_url: str | None = None
    """An AWS endpoint for every client (tests and the demo point it at a moto server)."""
    region: str | None = None
    """The default region of registered workers (else AWS_REGION / AWS_DEFAULT_REGION)."""
    batch_window: float = Field(default=0.005, ge=0.0, le=1.0)
    """Seconds during which concurrent runs' AWS calls are gathered into one call."""
    batching: bool = True
    """Off: one call per worker and metric (for comparison; see benchmarks/)."""
    keep_samples: int = Field(default=2016, ge=1)
    """Metric samples kept per worker (a week at the default interval)."""
    breaker: bool = True
    """One circuit breaker per AWS region (``aws:<region>``) guards the collection job:
    while a region's API fails, its workers' polls wait instead of failing."""
    breaker_failures: int = Field(default=5, ge=1, le=10_000)
    """Failed polls of one region within ``breaker_window`` that open its breaker."""
    breaker_window: float = Field(default=60.0, gt=0.0, le=86_400.0)
    breaker_cooldown: float = Field(default=60.0, gt=0.0, le=86_400.0)
    """Seconds an open breaker waits before one poll probes the region again."""

    @field_validator("webhook_urls", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def jitter(self) -> float:
        return self.poll_interval / 10 if self.poll_jitter is None else self.poll_jitter

    def database_url(self, store_url: str) -> str:
        """The fleet database URL: the configured one, or a SQLite file beside the store."""
        if self.db_url:
            return self.db_url
        folder = Path(".")
        if store_url.startswith("sqlite:///"):
            folder = Path(store_url.removeprefix("sqlite:///")).parent
        return f"sqlite+aiosqlite:///{folder / 'baton-fleet.db'}"
