"""What the OpenAPI document says beyond the route signatures: errors and links."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from baton.web.problems import MEDIA_TYPE


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses an operation can return."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def links(param: str, *operations: str) -> dict[str, Any]:
    """OpenAPI links: the ``id`` in this response is the ``param`` of ``operations``."""
    return {
        "links": {
            op: {"operationId": op, "parameters": {param: "$response.body#/id"}}
            for op in operations
        }
    }


#: Where a returned schedule's id and a returned run's id can be used next.
SCHEDULE_LINKS = links(
    "schedule_id", "get_job", "job_runs", "trigger_job", "pause_job", "resume_job", "delete_job"
)
RUN_LINKS = links("run_id", "get_run", "retry_run", "cancel_run")
