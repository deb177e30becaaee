"""A body sent as a form (curl -d without a Content-Type) gets a 422 that says what to send."""

from __future__ import annotations

import json

import httpx

from tests.web.conftest import schedule


async def test_a_form_encoded_body_is_told_to_send_json(admin: httpx.AsyncClient) -> None:
    body = json.dumps(schedule("w:form"))
    sent = await admin.post(
        "/admin/jobs",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},  # what curl -d sends
    )
    assert sent.status_code == 422
    assert sent.headers["content-type"] == "application/problem+json"
    detail = sent.json()["detail"]
    assert "Content-Type: application/json" in detail
    assert "application/x-www-form-urlencoded" in detail


async def test_the_same_body_as_json_is_created(admin: httpx.AsyncClient) -> None:
    body = json.dumps(schedule("w:json"))
    sent = await admin.post(
        "/admin/jobs", content=body, headers={"Content-Type": "application/json"}
    )
    assert sent.status_code == 201, sent.text


async def test_a_json_body_of_the_wrong_shape_keeps_its_own_message(
    admin: httpx.AsyncClient,
) -> None:
    sent = await admin.post("/admin/jobs", json=[1, 2])
    assert sent.status_code == 422
    assert "Content-Type" not in sent.json()["detail"]
