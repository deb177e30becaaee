"""Bearer tokens with two roles: ``viewer`` reads, ``admin`` reads and changes.

Tokens come from ``BATON_API_TOKENS`` (``admin:<token>,viewer:<token>``). When none is
configured, ``baton serve`` creates one admin token, keeps it in a file only its user can
read, and prints it once, when it is created.
"""

from __future__ import annotations

import enum
import hmac
import os
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from baton.errors import ConfigurationError

MIN_TOKEN_LENGTH = 16


class Role(enum.IntEnum):
    """What a token may do; a higher role may do everything a lower one may."""

    VIEWER = 1
    ADMIN = 2


@dataclass(frozen=True)
class ApiTokens:
    """The accepted tokens and the role each one grants."""

    entries: tuple[tuple[bytes, Role], ...]

    @classmethod
    def parse(cls, spec: str) -> ApiTokens:
        """Read ``role:token`` pairs separated by commas; errors name the bad entry."""
        entries = []
        for index, raw in enumerate(p.strip() for p in spec.split(",")):
            if not raw:
                continue
            role_name, sep, token = raw.partition(":")
            where = f"BATON_API_TOKENS entry {index + 1}"
            if not sep:
                raise ConfigurationError(f"{where}: expected role:token")
            try:
                role = Role[role_name.strip().upper()]
            except KeyError:
                raise ConfigurationError(
                    f"{where}: unknown role {role_name.strip()!r} (admin or viewer)"
                ) from None
            if len(token) < MIN_TOKEN_LENGTH:
                raise ConfigurationError(
                    f"{where}: the token is shorter than {MIN_TOKEN_LENGTH} characters"
                )
            entries.append((token.encode(), role))
        if not entries:
            raise ConfigurationError("BATON_API_TOKENS holds no token")
        return cls(tuple(entries))

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, Role]]) -> ApiTokens:
        return cls(tuple((token.encode(), role) for token, role in pairs))

    def role_of(self, presented: str) -> Role | None:
        """The role of ``presented``, or ``None``. Every token is compared in constant
        time and none is skipped, so the answer's timing reveals nothing about them."""
        given = presented.encode()
        found: Role | None = None
        for token, role in self.entries:
            if hmac.compare_digest(token, given):
                found = role
        return found


def default_token_file() -> Path:
    """``$XDG_CONFIG_HOME/baton/api-token`` (``~/.config/baton/api-token``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "baton" / "api-token"


def ensure_admin_token(path: Path) -> tuple[str, bool]:
    """The admin token kept in ``path``, created (mode 0600) if missing.

    Returns the token and whether it was just created. A file that others can read is
    refused: the token in it must be considered leaked.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        token = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first: use theirs
            return ensure_admin_token(path)
        with os.fdopen(fd, "w") as handle:
            handle.write(token + "\n")
        return token, True
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"{path} is readable by other users; remove it (a new token will be made) "
            "or chmod 600 it"
        )
    token = path.read_text().strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigurationError(f"{path} holds no usable token; remove it to make a new one")
    return token, False
