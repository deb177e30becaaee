"""Job types: the ``@job`` decorator, the registry, payloads and dependency resolution.

A job type is code registered under a stable name. What is stored is only its name and
its payload (a pydantic model dumped to JSON); its dependencies are declared by type in
the signature of ``run`` and resolved for each run from the services container.
Nothing read from a store is ever imported, unpickled or evaluated: a name is looked up
in a :class:`Registry` object that the application filled with its own code.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any, Protocol, TypeVar, get_type_hints

from pydantic import BaseModel, ConfigDict, SecretBytes, SecretStr, ValidationError, create_model

from baton._input import check_json
from baton.errors import BatonError, InvalidPayloadError, JobTypeNotFoundError
from baton.model import MAX_PAYLOAD_BYTES

T = TypeVar("T")
_MARK = "__baton_job__"
REDACTED = "***"


class Secret:
    """Marks a payload field as secret: ``token: Annotated[str, Secret()]``.

    The value is stored as it is (a job needs it), but the HTTP API shows ``***`` in
    its place in every schedule and run it returns.
    """

    def __repr__(self) -> str:
        return "Secret()"


class Job(BaseModel):
    """Convenient base for class-based job types: its fields are the payload.

    Subclass it, decorate with ``@job("name")`` and define ``async def run(self, ...)``.
    """

    model_config = ConfigDict(extra="forbid")


class StopSchedule(Exception):
    """Raise (or return) from a job to end its own schedule; ``reason`` is recorded."""

    def __init__(self, reason: str = "stopped by the job") -> None:
        self.reason = reason
        super().__init__(reason)


class NonRetryableError(BatonError):
    """Raise from a job when another attempt cannot succeed: the run fails at once."""


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """What a running job may know about its run. Declare a parameter of this type to get it.

    ``run_id`` is stable across attempts: use it as an idempotency key.
    """

    run_id: str
    schedule_id: str | None
    job_type: str
    attempt: int
    max_attempts: int
    fire_at: datetime
    node: str


class Services(Protocol):
    """The per-run container a job's dependencies come from (a dishka request container)."""

    async def get(self, dependency_type: type[T], /) -> T: ...


class NoServices:
    """The container used when the application configured none."""

    async def get(self, dependency_type: type[T], /) -> T:
        raise BatonError(f"the job needs a {dependency_type!r} but no container was given to baton")


@dataclass(frozen=True, kw_only=True)
class JobType:
    """A registered job type: its name, payload model and how to call it."""

    name: str
    target: Any
    payload_model: type[BaseModel]
    dependencies: tuple[tuple[str, Any], ...]
    is_class: bool
    takes_payload: bool = False
    description: str = ""
    secret_fields: frozenset[str] = frozenset()
    key_dependencies: tuple[tuple[str, Any], ...] | None = None
    """The dependencies of the class's ``breaker_key`` method (``None``: it has none)."""

    def redact(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A copy of a stored payload with the values of secret fields replaced."""
        if not self.secret_fields:
            return payload
        return {k: REDACTED if k in self.secret_fields else v for k, v in payload.items()}

    def validate_payload(self, data: Any) -> BaseModel:
        """Validate ``data`` against the payload model; errors name the field."""
        if isinstance(data, self.payload_model):
            model = data
        else:
            if data is None:
                data = {}
            _refuse_unknown_keys(self.payload_model, data)
            try:
                model = self.payload_model.model_validate(data)
            except ValidationError as exc:
                raise InvalidPayloadError.from_validation(exc).within("payload") from None
        return model

    def dump_payload(self, data: Any) -> dict[str, Any]:
        """Validate and dump a payload to the JSON object that is stored."""
        if not data and isinstance(data, dict | None) and _takes_nothing(self.payload_model):
            return {}
        model = self.validate_payload(data)
        dumped = model.model_dump(mode="json")
        if not dumped:
            return dumped
        check_json(dumped, "payload", InvalidPayloadError)
        size = len(model.__pydantic_serializer__.to_json(model))  # UTF-8 JSON, by pydantic-core
        if size > MAX_PAYLOAD_BYTES:
            raise InvalidPayloadError(
                f"is {size} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes", field="payload"
            )
        return dumped

    async def breaker_key(
        self, payload: dict[str, Any], template: str | None, ctx: RunContext, services: Services
    ) -> str:
        """The key of the breaker a run of this type passes: the job's own
        ``async def breaker_key(self, ...)`` when it has one (dependencies injected as for
        ``run``), else ``template`` with ``{field}`` taken from the payload, else the job
        type's name."""
        if self.key_dependencies is not None:
            model = self.validate_payload(payload)
            kwargs = {n: await _resolve(ann, ctx, services) for n, ann in self.key_dependencies}
            key = await model.breaker_key(**kwargs)  # type: ignore[attr-defined]
            if not isinstance(key, str) or not key:
                raise TypeError(f"{self.name}.breaker_key must return a non-empty string")
            return key
        if template is None:
            return self.name
        return _FIELD.sub(lambda m: _field_text(payload, m.group(1), self.name), template)

    async def execute(self, payload: dict[str, Any], ctx: RunContext, services: Services) -> Any:
        """Build the job from its stored payload, inject its dependencies and run it."""
        model = self.validate_payload(payload)
        kwargs = {name: await _resolve(ann, ctx, services) for name, ann in self.dependencies}
        if self.is_class:
            configure = getattr(model, "configure", None)
            if configure is not None:
                result = configure(services)
                if inspect.isawaitable(result):
                    await result
            return await model.run(**kwargs)  # type: ignore[attr-defined]
        if self.takes_payload:
            kwargs["payload"] = model
        return await self.target(**kwargs)


#: ``{field}`` in a breaker key: a payload field's value. Nothing else is interpreted
#: (no attribute or index access: the template is data).
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _field_text(payload: dict[str, Any], name: str, job_type: str) -> str:
    if name not in payload:
        raise InvalidPayloadError(
            f"the breaker key of {job_type!r} names it, but the payload has no such field",
            field=f"payload.{name}",
        )
    return str(payload[name])


def _refuse_unknown_keys(model: type[BaseModel], data: Any) -> None:
    """Refuse keys the model would silently drop: a typo must not lose a setting."""
    if not isinstance(data, Mapping):
        return
    known = _field_names(model)
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise InvalidPayloadError("is not a field of this job type", field=f"payload.{unknown[0]}")


@functools.lru_cache(maxsize=512)
def _takes_nothing(model: type[BaseModel]) -> bool:
    """A payload model without fields or model validators: no payload, stored as ``{}``."""
    decorators = model.__pydantic_decorators__
    return not model.__pydantic_fields__ and not decorators.model_validators


@functools.lru_cache(maxsize=512)
def _field_names(model: type[BaseModel]) -> frozenset[str]:
    """The keys a payload model accepts (names and aliases); models do not change."""
    fields = model.model_fields
    return frozenset(fields) | {f.alias for f in fields.values() if f.alias}


async def _resolve(annotation: Any, ctx: RunContext, services: Services) -> Any:
    if annotation is RunContext:
        return ctx
    return await services.get(annotation)


def job(name: str, *, description: str = "") -> Callable[[T], T]:
    """Mark a class or an async function as the job type ``name``.

    On a class (a pydantic model, e.g. a :class:`Job` subclass): the fields are the
    payload and ``async def run(self, ...)`` does the work. On an async function: a
    parameter named ``payload``, annotated with a pydantic model, receives the payload.
    Every other parameter of ``run`` (or of the function) is a dependency, injected by
    its type annotation; a parameter typed :class:`RunContext` receives the run context.
    The object is returned unchanged; put it in a :class:`Registry` to use it.
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValueError("a job type name must be a non-empty string of at most 200 chars")

    def mark(target: T) -> T:
        setattr(target, _MARK, _describe(name, target, description))
        return target

    return mark


def _describe(name: str, target: Any, description: str) -> JobType:
    doc = description or (inspect.getdoc(target) or "").split("\n")[0]
    if inspect.isclass(target):
        if not issubclass(target, BaseModel):
            raise TypeError(f"job {name!r}: a job class must be a pydantic model (baton.Job)")
        run = getattr(target, "run", None)
        if run is None or not inspect.iscoroutinefunction(run):
            raise TypeError(f"job {name!r}: the class needs an 'async def run(self, ...)'")
        deps = _dependencies(run, skip={"self"})
        key_method = getattr(target, "breaker_key", None)
        if key_method is not None and not inspect.iscoroutinefunction(key_method):
            raise TypeError(f"job {name!r}: breaker_key must be 'async def breaker_key(self, ...)'")
        return JobType(
            name=name,
            target=target,
            payload_model=target,
            dependencies=deps,
            is_class=True,
            description=doc,
            secret_fields=_secret_fields(name, target),
            key_dependencies=_dependencies(key_method, skip={"self"}) if key_method else None,
        )
    if not inspect.iscoroutinefunction(target):
        raise TypeError(f"job {name!r}: @job takes a class or an async function")
    hints = _hints(target)
    payload_model = hints.get("payload")
    if "payload" in inspect.signature(target).parameters:
        if not (inspect.isclass(payload_model) and issubclass(payload_model, BaseModel)):
            raise TypeError(f"job {name!r}: 'payload' must be annotated with a pydantic model")
    else:
        payload_model = create_model(
            f"{target.__name__}_payload", __config__=ConfigDict(extra="forbid")
        )
    deps = _dependencies(target, skip={"payload"})
    return JobType(
        name=name,
        target=target,
        payload_model=payload_model,
        dependencies=deps,
        is_class=False,
        takes_payload="payload" in inspect.signature(target).parameters,
        description=doc,
        secret_fields=_secret_fields(name, payload_model),
    )


def _secret_fields(name: str, model: type[BaseModel]) -> frozenset[str]:
    found = set()
    for field_name, info in model.model_fields.items():
        if info.annotation in (SecretStr, SecretBytes):
            # pydantic dumps these as '**********': the stored payload would lose the value.
            raise TypeError(
                f"job {name!r}: field {field_name!r} is a pydantic secret type, which cannot "
                "be stored; use Annotated[str, baton.Secret()]"
            )
        if any(isinstance(meta, Secret) for meta in info.metadata):
            found.add(info.alias or field_name)
    return frozenset(found)


def _dependencies(
    func: Callable[..., Awaitable[Any]], skip: set[str]
) -> tuple[tuple[str, Any], ...]:
    hints = _hints(func)
    deps = []
    for param in inspect.signature(func).parameters.values():
        if param.name in skip:
            continue
        if param.name not in hints:
            raise TypeError(
                f"{func.__qualname__}: parameter {param.name!r} needs a type annotation "
                "to be injected"
            )
        deps.append((param.name, hints[param.name]))
    return tuple(deps)


def _hints(func: Any) -> dict[str, Any]:
    try:
        return get_type_hints(func)
    except NameError as exc:
        raise TypeError(
            f"{func.__qualname__}: cannot resolve its annotations ({exc}); "
            "the types it names must be importable from its module"
        ) from None


def job_type_of(target: Any) -> JobType:
    """The :class:`JobType` that ``@job`` attached to ``target``."""
    found = getattr(target, _MARK, None)
    if not isinstance(found, JobType):
        raise TypeError(f"{target!r} is not decorated with @job")
    return found


class Registry:
    """The job types one application knows, by name. Create one per application."""

    def __init__(self, jobs: Iterable[Any] = ()) -> None:
        self._types: dict[str, JobType] = {}
        for target in jobs:
            self.add(target)

    def add(self, target: Any) -> JobType:
        """Register a ``@job``-decorated class or function; the same name twice is an error."""
        job_type = job_type_of(target)
        existing = self._types.get(job_type.name)
        if existing is not None and existing.target is not target:
            raise ValueError(f"two job types are named {job_type.name!r}")
        self._types[job_type.name] = job_type
        return job_type

    def add_module(self, module: ModuleType) -> list[JobType]:
        """Register every ``@job``-decorated object defined at the top of ``module``."""
        found = [v for v in vars(module).values() if isinstance(getattr(v, _MARK, None), JobType)]
        return [self.add(target) for target in found]

    def get(self, name: str) -> JobType:
        """The job type registered as ``name``; :class:`JobTypeNotFoundError` otherwise."""
        try:
            return self._types[name]
        except KeyError:
            raise JobTypeNotFoundError(name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)
