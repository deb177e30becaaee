"""Configuration from the environment (``BATON_*``); command-line flags override it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_STORE_URL = "sqlite:///./baton.db"


class Settings(BaseSettings):
    """What a baton process reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    store_url: str = DEFAULT_STORE_URL
    node_name: str | None = None
    concurrency: int = Field(default=10, ge=1, le=10_000)
    imports: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Modules holding the application's job types (comma-separated in the environment)."""
    api_tokens: str | None = None
    """``admin:<token>,viewer:<token>``: who may use the HTTP API, and how."""
    api_token_file: Path | None = None
    """Where ``baton serve`` keeps the admin token it makes when no token is configured."""
    container: str | None = None
    """``module:function`` returning the dishka container that jobs' dependencies come
    from, for ``baton worker`` and ``baton serve``."""
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)

    @field_validator("imports", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
