"""What the API reads of a request: a bounded body, parsed as strict JSON.

The body limit is enforced before anything is parsed: a ``Content-Length`` over it is
answered with 413 at once, and a body sent in chunks is cut off as soon as it passes
the limit. JSON bodies are parsed without NaN or Infinity and with bounded nesting
(``baton._input.loads_strict``), so the API never stores what strict JSON readers reject.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from baton._input import loads_strict
from baton.errors import InvalidInputError
from baton.web.problems import problem_response

MAX_BODY_BYTES = 256 * 1024
"""The largest request body: a schedule's 64 KiB payload with ample room for the rest."""


class BodyLimit:
    """ASGI middleware: 413 problem+json for a request body over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge(self.limit)
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            f"the request body is larger than {self.limit} bytes",
            instance=scope.get("path"),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


class _TooLarge(HTTPException):
    """The body passed the limit while it was being read (an HTTP error, so that the
    route's body reader lets it through to the problem handlers)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BadBody(HTTPException):
    """A body that strict JSON refuses: 422 naming the value's path (``payload.x``), or no
    field when the body as a whole is at fault (not JSON, NaN, nested too deeply). An
    HTTP error, so that FastAPI's body reader lets it through to the problem handler."""

    def __init__(self, exc: InvalidInputError) -> None:
        path = exc.field or "body"
        self.field = None if path == "body" else path.removeprefix("body.")
        super().__init__(422, exc.message)


class _StrictRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = loads_strict(await self.body(), "body")
            except InvalidInputError as exc:
                raise BadBody(exc) from None
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose JSON body is parsed by :func:`baton._input.loads_strict`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictRequest(request.scope, request.receive))

        return strict
