"""What route functions receive: the facade, the redactor, and the caller's role."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator

from baton._input import MAX_ID_LENGTH, MAX_RUN_ID_LENGTH, POSITION_PATTERN
from baton.app import Baton
from baton.model import UTCDateTime
from baton.redaction import Redactor
from baton.web.auth import ApiTokens, Role
from baton.web.schemas import ID_PATTERN

_bearer = HTTPBearer(auto_error=False, description="A token from BATON_API_TOKENS.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def baton_of(request: Request) -> Baton:
    baton: Baton = request.app.state.baton
    return baton


def redactor_of(request: Request) -> Redactor:
    redactor: Redactor = request.app.state.redactor
    return redactor


def require(role: Role) -> Callable[..., Awaitable[Role]]:
    """A dependency that lets a request through only with a token of at least ``role``."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Role:
        tokens: ApiTokens = request.app.state.tokens
        if credentials is None:
            raise HTTPException(
                401, "send a bearer token: Authorization: Bearer <token>", headers=_CHALLENGE
            )
        found = tokens.role_of(credentials.credentials)
        if found is None:
            raise HTTPException(401, "the bearer token is not valid", headers=_CHALLENGE)
        if found < role:
            raise HTTPException(403, f"this needs an {role.name.lower()} token")
        return found

    return check


BatonDep = Annotated[Baton, Depends(baton_of)]
RedactorDep = Annotated[Redactor, Depends(redactor_of)]
Viewer = Depends(require(Role.VIEWER))
Admin = Depends(require(Role.ADMIN))

ScheduleId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN, description="Schedule id."),
]
RunId = Annotated[
    str,
    Path(min_length=1, max_length=MAX_RUN_ID_LENGTH, pattern=ID_PATTERN, description="Run id."),
]
#: A filter compared with ids.
Filter = Annotated[str | None, Query(max_length=MAX_RUN_ID_LENGTH)]
#: next_cursor of a page of runs (a number in every store).
RunCursor = Annotated[
    str | None,
    Query(pattern=r"^[0-9]{1,18}$", description="next_cursor of the previous page."),
]
#: An event id (a number, or a Redis stream id such as 1764237600000-0).
EventId = Annotated[
    str | None,
    Query(
        pattern=f"^{POSITION_PATTERN.pattern}$",
        description="Start after this event id (default: from now on).",
    ),
]


def _iso_text(value: Any) -> Any:
    # A query string of digits would pass as Unix seconds; the schema says date-time.
    if isinstance(value, str) and not re.match(r"\d{4}-\d\d-\d\d", value):
        raise ValueError("must be an ISO 8601 date-time with a zone, e.g. 2026-11-27T10:00:00Z")
    return value


Since = Annotated[
    UTCDateTime | None,
    BeforeValidator(_iso_text),
    Query(description="Created at or after (ISO 8601 with a zone)."),
]
