"""The admin API as a FastAPI app over one :class:`baton.Baton`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from baton.app import Baton
from baton.redaction import Redactor
from baton.web import breakers_api, jobs_api, problems, runs_api, system_api
from baton.web.auth import ApiTokens
from baton.web.limits import BodyLimit
from baton.web.metrics import Metrics


def create_app(
    baton: Baton,
    *,
    tokens: ApiTokens,
    event_poll: float = 0.2,
    title: str = "baton",
) -> FastAPI:
    """The admin API of ``baton``: jobs, runs, nodes, events, metrics and health.

    Call it before the Baton's node starts: it registers the listener that feeds
    ``/metrics``. The app does not open or close the Baton; its owner does.
    """
    app = FastAPI(
        title=title,
        summary="See and steer every job of a baton cluster.",
        version=_version(),
        generate_unique_id_function=lambda route: route.name,  # operation ids: function names
    )
    app.state.baton = baton
    app.state.tokens = tokens
    app.state.redactor = Redactor(baton.registry)
    app.state.metrics = metrics = Metrics()
    app.state.event_poll = event_poll
    baton.add_listener("*", metrics.observe)
    problems.install(app)
    app.add_middleware(BodyLimit)
    for module in (system_api, jobs_api, runs_api, breakers_api):
        app.include_router(module.router)
    _document_problems(app)
    return app


def _document_problems(app: FastAPI) -> None:
    """Publish the Problem schema that every error response refers to."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Problem"] = problems.Problem.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("baton")
    except PackageNotFoundError:
        return "0"
