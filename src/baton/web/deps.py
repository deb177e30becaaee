"""What route functions receive: the facade, the redactor, and the caller's role."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from baton.app import Baton
from baton.redaction import Redactor
from baton.web.auth import ApiTokens, Role

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
