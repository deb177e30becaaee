"""Job types: the decorator, the registry, payload validation and injection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from baton import Job, JobTypeNotFoundError, Registry, RunContext, job
from baton.errors import InvalidPayloadError
from baton.jobs import NoServices, job_type_of


@job("greet")
class Greet(Job):
    """Say hello."""

    name: str
    times: int = 1

    async def run(self, ctx: RunContext) -> str:
        return f"{self.name} x{self.times} ({ctx.attempt})"


class Args(BaseModel):
    x: int


@job("double")
async def double(payload: Args) -> int:
    return payload.x * 2


CTX = RunContext(
    run_id="r",
    schedule_id=None,
    job_type="greet",
    attempt=2,
    max_attempts=3,
    fire_at=datetime(2026, 1, 1, tzinfo=UTC),
    node="n",
)


def test_the_registry_finds_types_by_name_and_refuses_unknown_ones() -> None:
    registry = Registry([Greet, double])
    assert registry.names() == ["double", "greet"]
    assert registry.get("greet").description == "Say hello."
    with pytest.raises(JobTypeNotFoundError, match="'nope'"):
        registry.get("nope")


def test_registries_are_separate_objects() -> None:
    assert "greet" in Registry([Greet])
    assert "greet" not in Registry()


def test_two_types_with_one_name_are_refused() -> None:
    @job("greet")
    class Other(Job):
        async def run(self) -> None: ...

    with pytest.raises(ValueError, match="two job types"):
        Registry([Greet, Other])


async def test_a_class_job_runs_from_its_stored_payload() -> None:
    result = await job_type_of(Greet).execute({"name": "ann", "times": 2}, CTX, NoServices())
    assert result == "ann x2 (2)"


async def test_a_function_job_receives_its_payload_model() -> None:
    assert await job_type_of(double).execute({"x": 21}, CTX, NoServices()) == 42


def test_payloads_are_validated_with_the_field_named() -> None:
    jt = job_type_of(Greet)
    with pytest.raises(InvalidPayloadError) as caught:
        jt.dump_payload({"name": "ann", "times": "many"})
    assert caught.value.field == "payload.times"
    with pytest.raises(InvalidPayloadError, match=r"payload\.extra"):
        jt.dump_payload({"name": "ann", "extra": 1})


def test_a_payload_over_64_kib_is_refused() -> None:
    with pytest.raises(InvalidPayloadError, match="65536 bytes"):
        job_type_of(Greet).dump_payload({"name": "x" * 70_000})


def test_the_dumped_payload_is_exactly_the_declared_fields() -> None:
    assert job_type_of(Greet).dump_payload(Greet(name="a")) == {"name": "a", "times": 1}


class Client:
    """A dependency that only a container could provide."""


async def test_a_dependency_without_a_container_is_a_clear_error() -> None:
    @job("needs-client")
    async def needs(client: Client) -> None: ...

    with pytest.raises(Exception, match="no container"):
        await job_type_of(needs).execute({}, CTX, NoServices())


def test_decorating_the_wrong_things_fails_early() -> None:
    with pytest.raises(TypeError, match="pydantic model"):
        job("x")(type("Plain", (), {"run": lambda self: None}))
    with pytest.raises(TypeError, match="async def run"):

        @job("x")
        class NoRun(Job):
            pass

    with pytest.raises(TypeError, match="class or an async function"):

        @job("x")
        def sync() -> None: ...

    with pytest.raises(TypeError, match="type annotation"):

        @job("x")
        async def untyped(thing) -> None: ...  # type: ignore[no-untyped-def]

    with pytest.raises(ValueError, match="non-empty"):
        job("")
    with pytest.raises(TypeError, match="cannot resolve"):

        @job("x")
        async def unknown(thing: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821
