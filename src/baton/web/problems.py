"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns has ``type``, ``title``, ``status`` and ``detail``; a
validation error also names the offending ``field`` (``payload.worker_id``,
``policy.retry.max_attempts``), so a client can point at it.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from baton.errors import (
    BatonError,
    ConflictError,
    InvalidInputError,
    JobTypeNotFoundError,
    NotFoundError,
    StoreError,
    UpstreamError,
)

MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """An error, as RFC 9457 describes it."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: str | None = None
    """The request field at fault, for validation errors."""


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=instance,
        field=field,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _status_of(exc: BatonError) -> int:
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, InvalidInputError | JobTypeNotFoundError):
        return 422
    if isinstance(exc, StoreError):
        return 503
    if isinstance(exc, UpstreamError):
        return 502
    return 500


def _detail_and_field(exc: BatonError) -> tuple[str, str | None]:
    if isinstance(exc, InvalidInputError):
        return exc.message, exc.field
    if isinstance(exc, JobTypeNotFoundError):
        return str(exc), "type"
    return str(exc), None


def _not_json(exc: RequestValidationError) -> bool:
    # A body that is not JSON fails at a character offset, which names no field.
    return any(error.get("type") == "json_invalid" for error in exc.errors())


_METHODS = ("delete", "get", "head", "options", "patch", "post", "put", "trace")


def allowed_methods(request: Request) -> str | None:
    """The methods the OpenAPI document gives for this path (``None`` when it has none).

    Starlette names only the methods of the first route whose path matched, which
    misleads a client when several routes share a path. A path the document names
    literally (``/workers/import``) is that entry's alone, not also an id of
    ``/workers/{worker_id}``.
    """
    paths: dict[str, Any] = request.app.openapi().get("paths", {})
    path = request.scope.get("path", "")
    entries = (
        [paths[path]]
        if path in paths
        else [entry for template, entry in paths.items() if _template(template).fullmatch(path)]
    )
    methods = sorted({m.upper() for entry in entries for m in entry if m in _METHODS})
    return ", ".join(methods) or None


def _template(path: str) -> re.Pattern[str]:
    """``/admin/jobs/{schedule_id}`` as a pattern: a parameter is one path segment."""
    return re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))


def _not_declared_json(request: Request, exc: RequestValidationError) -> bool:
    """FastAPI reads a body as JSON only when its Content-Type says so: ``curl -d`` sends
    application/x-www-form-urlencoded, and the body fails as "not a valid dictionary"."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    declared = media == "application/json" or media.endswith("+json")
    return not declared and any(tuple(e.get("loc", ())) == ("body",) for e in exc.errors())


def install(app: FastAPI) -> None:
    """Turn baton's errors, HTTP errors and request validation errors into problems."""

    async def on_baton_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BatonError)
        detail, field = _detail_and_field(exc)
        return problem_response(_status_of(exc), detail, instance=request.url.path, field=field)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        headers = dict(exc.headers or {})
        allowed = allowed_methods(request) if exc.status_code == 405 else None
        if allowed is not None:
            headers["Allow"] = allowed
        return problem_response(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            field=getattr(exc, "field", None),
            headers=headers,
        )

    async def on_invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # FastAPI's locations start with the part of the request (body, query, path...).
        invalid = InvalidInputError.from_validation(exc, skip=1)
        field = None if _not_json(exc) else invalid.field
        detail = invalid.message.removeprefix("Value error, ")  # pydantic's prefix
        if _not_declared_json(request, exc):
            given = request.headers.get("content-type") or "none"
            detail = f"the body must be JSON sent with Content-Type: application/json (got {given})"
        return problem_response(422, detail, instance=request.url.path, field=field)

    app.add_exception_handler(BatonError, on_baton_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
