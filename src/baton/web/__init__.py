"""baton's HTTP side: the admin API, its auth, metrics and the server that runs it.

The names below are imported on first use: reading ``BATON_API_TOKENS`` (``auth``) does
not load FastAPI, so that ``baton serve`` reports a bad token at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from baton._lazy import exports

if TYPE_CHECKING:
    from baton.web.app import create_app
    from baton.web.auth import ApiTokens, Role, default_token_file, ensure_admin_token
    from baton.web.deps import Admin, Viewer, require
    from baton.web.limits import StrictJSONRoute
    from baton.web.openapi import documented
    from baton.web.server import serve_http

_HOMES = {
    "Admin": "baton.web.deps",
    "ApiTokens": "baton.web.auth",
    "Role": "baton.web.auth",
    "StrictJSONRoute": "baton.web.limits",
    "Viewer": "baton.web.deps",
    "create_app": "baton.web.app",
    "default_token_file": "baton.web.auth",
    "documented": "baton.web.openapi",
    "ensure_admin_token": "baton.web.auth",
    "require": "baton.web.deps",
    "serve_http": "baton.web.server",
}


__getattr__, __dir__ = exports(__name__, _HOMES)


__all__ = [
    "Admin",
    "ApiTokens",
    "Role",
    "StrictJSONRoute",
    "Viewer",
    "create_app",
    "default_token_file",
    "documented",
    "ensure_admin_token",
    "require",
    "serve_http",
]
