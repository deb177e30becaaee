"""Errors keep the message apart from the field, and every adapter names the field's path."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from baton import Baton, InvalidInputError, InvalidPayloadError, Job, job
from baton.cli import app as cli_app
from baton.errors import field_path
from baton.web import ApiTokens, Role, create_app

TOKEN = "admin-token-0123456789"
EVERY_HOUR = {"interval": {"seconds": 3600}}
NOT_AN_INT = "Input should be a valid integer, unable to parse string as an integer"


class Step(BaseModel):
    seconds: int


@job("steps")
class Steps(Job):
    steps: list[Step]

    async def run(self) -> None:
        return None


def bad_steps() -> dict[str, object]:
    return {"steps": [{"seconds": 1}, {"seconds": 2}, {"seconds": "three"}]}


def test_the_message_stays_apart_from_the_field_and_str_joins_them() -> None:
    error = InvalidPayloadError("is too long", field="payload.name")
    assert (error.message, error.field) == ("is too long", "payload.name")
    assert str(error) == "payload.name: is too long"
    assert str(InvalidInputError("is empty")) == "is empty"


def test_within_nests_the_field_in_a_new_error_of_the_same_type() -> None:
    error = InvalidPayloadError("is too long", field="payload.name")
    nested = error.within("schedules", 3)
    assert type(nested) is InvalidPayloadError
    assert nested.field == "schedules[3].payload.name" and nested.message == "is too long"
    assert str(nested) == "schedules[3].payload.name: is too long"
    assert error.field == "payload.name"  # the original is left as it was
    assert InvalidInputError("is empty").within("schedules", 0).field == "schedules[0]"
    assert InvalidInputError("bad", field="[2].x").within("steps").field == "steps[2].x"


def test_field_paths_dot_keys_and_bracket_list_positions() -> None:
    assert field_path(("schedules", 3, "payload", "x")) == "schedules[3].payload.x"
    assert field_path((0, "a")) == "[0].a"
    assert field_path(()) is None


async def test_add_many_names_a_nested_payload_error_by_its_whole_path() -> None:
    entries = [
        {"job": "steps", "id": "fine", "trigger": EVERY_HOUR, "payload": {"steps": []}},
        {"job": "steps", "id": "bad", "trigger": EVERY_HOUR, "payload": bad_steps()},
    ]
    async with Baton(store="memory://", jobs=[Steps]) as baton:
        with pytest.raises(InvalidPayloadError) as caught:
            await baton.add_many(entries)
    assert caught.value.field == "schedules[1].payload.steps[2].seconds"
    assert caught.value.message == NOT_AN_INT
    assert str(caught.value) == f"schedules[1].payload.steps[2].seconds: {NOT_AN_INT}"


@pytest.fixture
async def admin() -> AsyncIterator[httpx.AsyncClient]:
    async with Baton(store="memory://", jobs=[Steps]) as baton:
        app = create_app(baton, tokens=ApiTokens.of([(TOKEN, Role.ADMIN)]))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://baton.test",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as client:
            yield client


async def test_a_nested_payload_error_over_http_names_its_path_apart_from_the_detail(
    admin: httpx.AsyncClient,
) -> None:
    body = {"id": "s", "type": "steps", "payload": bad_steps(), "trigger": EVERY_HOUR}
    response = await admin.post("/admin/jobs", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == "payload.steps[2].seconds"
    assert problem["detail"] == NOT_AN_INT


async def test_a_request_validation_error_names_a_list_position_in_brackets(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.get("/admin/runs", params={"state": ["queued", "sleeping"]})
    assert response.status_code == 422
    assert response.json()["field"] == "state[1]"


async def test_a_body_that_is_not_json_names_no_field(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/admin/jobs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "field" not in response.json()


@pytest.mark.parametrize(
    "option", ["--jitter", "--every", "--timeout", "--backoff", "--backoff-max", "--misfire-grace"]
)
def test_the_cli_names_the_duration_option_that_it_could_not_read(option: str) -> None:
    durations = {"--every": "5m", option: "5q"}
    args = [part for pair in durations.items() for part in pair]
    result = CliRunner().invoke(cli_app, ["jobs", "add", "steps", "--id", "s", *args])
    assert result.exit_code == 1
    assert f"error: {option}: cannot read '5q' as a duration" in result.stderr
