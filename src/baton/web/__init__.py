"""baton's HTTP side: the admin API, its auth, metrics and the server that runs it."""

from baton.web.app import create_app
from baton.web.auth import ApiTokens, Role, default_token_file, ensure_admin_token
from baton.web.deps import Admin, Viewer, require
from baton.web.limits import StrictJSONRoute
from baton.web.openapi import documented
from baton.web.server import serve_http

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
