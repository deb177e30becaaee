"""What a reader may see of a schedule or a run: secrets fail closed.

A payload field declared ``Annotated[str, Secret()]`` is shown as ``***``. A process
that does not know a job type (an API-only node started without ``--import``) cannot
tell which fields are secret, so it shows none of that payload's values. Error texts
and notes are cut to a bounded length and every secret value of the payload is
replaced in them too: an exception that quotes its own API key does not leak it.
"""

from __future__ import annotations

from typing import Any

from baton.jobs import REDACTED, Registry
from baton.model import Run, RunError, Schedule

MAX_MESSAGE_SHOWN = 2000
MAX_TRACE_SHOWN = 4000
#: Shorter values are not searched for in error texts: ``1`` would garble every number.
MIN_SECRET_LENGTH = 4


class Redactor:
    """Hides secret payload values and lease tokens; with ``show_secrets`` (an admin's
    explicit request on the command line), hides only lease tokens."""

    def __init__(self, registry: Registry, *, show_secrets: bool = False) -> None:
        self.registry = registry
        self.show_secrets = show_secrets

    def schedule(self, schedule: Schedule) -> Schedule:
        """The schedule with its payload redacted."""
        return schedule.evolve(payload=self.payload(schedule.type, schedule.payload))

    def run(self, run: Run) -> Run:
        """The run with its payload, error and note redacted and no lease token."""
        secrets = self._secret_values(run.type, run.payload)
        return run.evolve(
            payload=self.payload(run.type, run.payload),
            lease_token=None,
            error=_error(run.error, secrets),
            note=None if run.note is None else _scrub(run.note, secrets, MAX_MESSAGE_SHOWN),
        )

    def payload(self, type_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """``payload`` as a reader may see it."""
        if self.show_secrets or not payload:
            return payload
        if type_name not in self.registry:
            return {key: REDACTED for key in payload}  # unknown here: every value may be secret
        return self.registry.get(type_name).redact(payload)

    def _secret_values(self, type_name: str, payload: dict[str, Any]) -> list[str]:
        if self.show_secrets:
            return []
        if type_name in self.registry:
            fields = self.registry.get(type_name).secret_fields
            values = [payload.get(name) for name in fields]
        else:
            values = list(_leaves(payload))
        found = {str(v) for v in values if _searchable(v)}
        # Longest first: a secret that contains another is replaced whole.
        return sorted((v for v in found if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def _searchable(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _leaves(value: Any) -> Any:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            yield item


def _error(error: RunError | None, secrets: list[str]) -> RunError | None:
    if error is None:
        return None
    return error.evolve(
        message=_scrub(error.message, secrets, MAX_MESSAGE_SHOWN),
        trace=_scrub(error.trace, secrets, MAX_TRACE_SHOWN, keep_tail=True),
    )


def _scrub(text: str, secrets: list[str], limit: int, *, keep_tail: bool = False) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    if len(text) <= limit:
        return text
    return "…" + text[-limit + 1 :] if keep_tail else text[: limit - 1] + "…"
