"""API tokens: parsing BATON_API_TOKENS, roles, and the generated admin token file."""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import SecretStr

from baton import ConfigurationError, Job, Secret, job
from baton.jobs import job_type_of
from baton.web import ApiTokens, Role, ensure_admin_token


def test_tokens_parse_roles_and_grant_at_most_their_role() -> None:
    tokens = ApiTokens.parse(" admin:aaaaaaaaaaaaaaaa , viewer:vvvvvvvvvvvvvvvv:with-colon ")
    assert tokens.role_of("aaaaaaaaaaaaaaaa") is Role.ADMIN
    assert tokens.role_of("vvvvvvvvvvvvvvvv:with-colon") is Role.VIEWER
    assert tokens.role_of("vvvvvvvvvvvvvvvv") is None
    assert tokens.role_of("") is None
    assert Role.VIEWER < Role.ADMIN


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "holds no token"),
        ("aaaaaaaaaaaaaaaa", "entry 1: expected role:token"),
        ("admin:aaaaaaaaaaaaaaaa,root:bbbbbbbbbbbbbbbb", "entry 2: unknown role 'root'"),
        ("viewer:short", "entry 1: the token is shorter than 16"),
    ],
)
def test_bad_token_specs_name_the_entry(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ApiTokens.parse(spec)


def test_admin_token_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "api-token"
    token, created = ensure_admin_token(path)
    assert created and len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ensure_admin_token(path) == (token, False)
    path.chmod(0o640)
    with pytest.raises(ConfigurationError, match="readable by other users"):
        ensure_admin_token(path)


def test_secret_fields_are_redacted_and_pydantic_secret_types_refused() -> None:
    @job("with-secret")
    class WithSecret(Job):
        user: str
        password: Annotated[str, Secret()]

        async def run(self) -> None: ...

    kind = job_type_of(WithSecret)
    assert kind.secret_fields == {"password"}
    assert kind.redact({"user": "u", "password": "p"}) == {"user": "u", "password": "***"}

    with pytest.raises(TypeError, match=re.escape("Annotated[str, baton.Secret()]")):

        @job("with-secret-str")
        class Lossy(Job):
            password: SecretStr

            async def run(self) -> None: ...
