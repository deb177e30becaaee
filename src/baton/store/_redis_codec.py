"""How the Redis store writes schedules and runs: compact, JSON, and readable by redis-cli.

A schedule is split three ways, so that the common case fits Redis's compact listpack
encoding (small hashes whose values are at most 64 bytes):

- its *shape* — job type, trigger without its anchor, policy — shared by every schedule
  made alike, stored once under a content hash: ``shapes`` id -> JSON;
- its *definition*, written once: ``[shape id, payload, created ms, anchor]``, where the
  anchor is an interval's start as microseconds after creation, or a calendar's start date;
- its *state*, rewritten at each fire: ``[version, last fire ms, state, updated ms]``,
  trailing defaults left out.

Ids spread over 1024 buckets by a small string hash that the Lua scripts compute too.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from baton._identity import IdentityCache
from baton.model import (
    Dependencies,
    Policy,
    Run,
    RunError,
    RunState,
    Schedule,
    ScheduleState,
    to_millisecond,
)

NBUCKETS = 1024


def bucket(schedule_id: str) -> int:
    """The bucket of an id; the same function as ``bucket`` in lua/_prelude.lua."""
    h = 5381
    for byte in schedule_id.encode():
        h = (h * 33 + byte) % 1048576
    return h % NBUCKETS


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def us(moment: datetime | None) -> str:
    return "" if moment is None else str(round(moment.timestamp() * 1_000_000))


def dt(value: str | bytes | float | None) -> datetime | None:
    if value is None or value == "":
        return None
    seconds, micros = divmod(int(float(value)), 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    # Integer arithmetic: the stored millisecond never depends on float rounding.
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _from_ms(value: int) -> datetime:
    seconds, millis = divmod(value, 1000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=millis * 1000)


def encode_schedule(schedule: Schedule, version: int | None = None) -> tuple[str, str, str, str]:
    """(shape id, shape JSON, definition JSON, state JSON) of a schedule; ``version``
    overrides the schedule's own in the state."""
    created = _ms(schedule.created_at)
    trigger_json, start, is_interval = _trigger_parts(schedule.trigger)
    shape_id, shape_json = _shape(schedule.type, trigger_json, _policy_json(schedule.policy))
    # The list [shape id, payload, created, anchor?] by hand: a hot path of bulk adds.
    payload = dumps(schedule.payload) if schedule.payload else "{}"
    if start is None:
        tail = "]"
    elif is_interval:
        tail = f",{_start_us(start) - created * 1000}]"
    else:
        tail = f",{dumps(start)}]"
    definition = f'["{shape_id}",{payload},{created}{tail}'
    return shape_id, shape_json, definition, encode_state(schedule, version)


# Schedules added together share one trigger dict and one policy (see Baton.add_many).
_TRIGGERS: IdentityCache[dict[str, Any], tuple[str, str | None, bool]] = IdentityCache()


def _trigger_parts(trigger: dict[str, Any]) -> tuple[str, str | None, bool]:
    """(trigger JSON without its start, the start, whether it is an interval's)."""
    return _TRIGGERS.get(trigger, _split_trigger)


def _split_trigger(trigger: dict[str, Any]) -> tuple[str, str | None, bool]:
    kind = "interval" if "interval" in trigger else "calendar"
    body = trigger.get(kind)
    if not (isinstance(body, dict) and "start" in body):
        return dumps(trigger), None, False
    rest = dict(body)
    start = rest.pop("start")
    return dumps({**trigger, kind: rest}), start, kind == "interval"


@lru_cache(maxsize=1024)
def _start_us(start: str) -> int:
    """An interval's start in microseconds (schedules added together share one)."""
    return round(datetime.fromisoformat(start).timestamp() * 1_000_000)


def as_stored(schedule: Schedule, version: int) -> Schedule:
    """``schedule`` as :func:`decode_schedule` will read it back once written at ``version``:
    times at the precision they are kept (milliseconds), an interval's start in UTC ``Z``
    form. Cheaper than decoding what was just encoded, above all for schedules already in
    that form (as :class:`~baton.Baton` makes them)."""
    changes: dict[str, Any] = {} if schedule.version == version else {"version": version}
    created = schedule.created_at
    if created.microsecond % 1000:
        created = changes["created_at"] = to_millisecond(created)
    if schedule.updated_at != schedule.created_at:
        changes["updated_at"] = to_millisecond(schedule.updated_at)
    elif "created_at" in changes:
        changes["updated_at"] = created
    if schedule.last_fire_at is not None and schedule.last_fire_at.microsecond % 1000:
        changes["last_fire_at"] = to_millisecond(schedule.last_fire_at)
    body = schedule.trigger.get("interval")
    if isinstance(body, dict) and "start" in body:
        start = _normal_start(body["start"])
        if start != body["start"]:
            changes["trigger"] = {**schedule.trigger, "interval": {**body, "start": start}}
    return schedule.evolve(**changes) if changes else schedule


@lru_cache(maxsize=1024)
def _normal_start(start: str) -> str:
    """An interval's start as it reads back (bulk adds share one: parse it once)."""
    return _iso(dt(round(datetime.fromisoformat(start).timestamp() * 1_000_000)))


_POLICIES_SEEN: IdentityCache[Policy, str] = IdentityCache()


def _policy_json(policy: Policy) -> str:
    """As :func:`_policy_json_of`, looked up by identity first (hashing a policy by value
    walks all its fields)."""
    return _POLICIES_SEEN.get(policy, _policy_json_of)


@lru_cache(maxsize=1024)
def _policy_json_of(policy: Policy) -> str:
    """A policy's non-default fields as JSON ('' for the default policy).

    Schedules made alike share equal policies: dump each distinct one once.
    """
    found = policy.model_dump(mode="json", exclude_defaults=True)
    return dumps(found) if found else ""


@lru_cache(maxsize=1024)
def _shape(job_type: str, trigger_json: str, policy_json: str) -> tuple[str, str]:
    """(shape id, shape JSON): the content hash names the shape."""
    shape = f'{{"t":{dumps(job_type)},"tr":{trigger_json}'
    shape += f',"po":{policy_json}}}' if policy_json else "}"
    return hashlib.sha1(shape.encode()).hexdigest()[:8], shape


def with_version(state_json: str, version: int) -> str:
    """A state JSON (which starts with its version) at another version."""
    return f"[{version}" + state_json[state_json.index(",") if "," in state_json else -1 :]


def encode_state(schedule: Schedule, version: int | None = None) -> str:
    """``[version, last fire ms, state, updated ms]`` without trailing defaults; built by
    hand (every part is a number or a plain word), as it is on every fire and add."""
    parts = [
        str(schedule.version if version is None else version),
        str(_ms(schedule.last_fire_at)) if schedule.last_fire_at else "0",
        f'"{schedule.state.value}"' if schedule.state is not ScheduleState.ACTIVE else '""',
        str(_ms(schedule.updated_at)) if schedule.updated_at != schedule.created_at else "0",
    ]
    while len(parts) > 1 and parts[-1] in ("0", '""'):
        parts.pop()
    return f"[{','.join(parts)}]"


def decode_schedule(
    schedule_id: str, definition: str, state: str, next_us: Any, shape_json: str
) -> Schedule:
    kind, payload, trigger, policy, created = _definition(definition, shape_json)
    version, last, mode, updated = [*json.loads(state), 0, "", 0][:4]
    return Schedule.trusted(
        dict(
            id=schedule_id,
            type=kind,
            payload=payload,
            trigger=trigger,
            policy=policy,
            state=ScheduleState(mode or "active"),
            next_fire_at=dt(next_us),
            last_fire_at=_from_ms(last) if last else None,
            version=version,
            created_at=created,
            updated_at=_from_ms(updated) if updated else created,
        )
    )


def shape_of(definition: str) -> str:
    """The shape id a definition starts with (``["<8 hex>",...``), without parsing it all."""
    if definition.startswith('["') and definition[10:12] == '",':
        return definition[2:10]
    return str(json.loads(definition)[0])


@lru_cache(maxsize=65536)
def _definition(
    definition: str, shape_json: str
) -> tuple[str, dict[str, Any], dict[str, Any], Policy, datetime]:
    """A schedule's definition never changes after it is written: parse each once.

    Callers must not mutate the payload or trigger they get (records are frozen).
    """
    shape = json.loads(shape_json)
    _shape_id, payload, created_ms, *rest = json.loads(definition)
    trigger = shape["tr"]
    if rest:
        kind = "interval" if "interval" in trigger else "calendar"
        body = dict(trigger[kind])
        if kind == "interval":
            body["start"] = _iso(dt(created_ms * 1000 + rest[0]))
        else:
            body["start"] = rest[0]
        trigger = {**trigger, kind: body}
    policy = policy_from_json(dumps(shape.get("po", {})))
    return shape["t"], payload, trigger, policy, _from_ms(created_ms)


def _iso(moment: datetime | None) -> str:
    assert moment is not None
    return moment.isoformat().replace("+00:00", "Z")


_POLICIES: dict[str, Policy] = {}


def policy_from_json(text: str) -> Policy:
    """Policies repeat across thousands of runs; parse each distinct one once."""
    found = _POLICIES.get(text)
    if found is None:
        found = Policy.model_validate_json(text)
        if len(_POLICIES) < 1024:
            _POLICIES[text] = found
    return found


@lru_cache(maxsize=1024)
def _policy_fields(policy: Policy) -> tuple[str, str, str, str]:
    """What the scripts read of a run's policy, besides the policy JSON itself."""
    return (
        policy.model_dump_json(exclude_defaults=True),
        str(policy.priority),
        str(policy.max_concurrent),
        str(policy.retry.max_lease_losses),
    )


def run_fields(run: Run) -> list[str]:
    """A new run as the flat field/value list of its hash ``r:<id>`` (a list written
    out: this runs for every fire)."""
    policy_json, priority, max_concurrent, max_losses = _policy_fields(run.policy)
    fire = us(run.fire_at)
    due = fire if run.due_at == run.fire_at else us(run.due_at)
    return [
        "id", run.id,
        "sid", run.schedule_id or "",
        "type", run.type,
        "payload", dumps(run.payload) if run.payload else "{}",
        "policy", policy_json,
        "pri", priority,
        "mc", max_concurrent,
        "ml", max_losses,
        "fire", fire,
        "due", due,
        "att", str(run.attempt),
        "st", run.state.value,
        "c", us(run.created_at),
        *(("after", run.after.model_dump_json()) if run.after else ()),
    ]  # fmt: skip


def decode_run(fields: dict[str, str]) -> Run:
    err, after = fields.get("err"), fields.get("after")
    return Run.trusted(
        dict(
            id=fields["id"],
            schedule_id=fields.get("sid") or None,
            type=fields["type"],
            payload=json.loads(fields["payload"]),
            policy=policy_from_json(fields["policy"]),
            fire_at=dt(fields["fire"]),
            due_at=dt(fields["due"]),
            attempt=int(fields["att"]),
            lease_losses=int(fields.get("ll") or 0),
            state=RunState(fields["st"]),
            owner=fields.get("own") or None,
            lease_token=fields.get("tok") or None,
            lease_expires_at=dt(fields.get("lease")),
            cancel_requested=fields.get("cr") == "1",
            created_at=dt(fields["c"]),
            started_at=dt(fields.get("s")),
            finished_at=dt(fields.get("f")),
            error=RunError.model_validate_json(err) if err else None,
            note=fields.get("note") or None,
            after=Dependencies.model_validate_json(after) if after else None,
        )
    )


def claimed_run(fields: dict[str, str], known: dict[str, Run]) -> Run:
    """A run just claimed; when it was just created here too, only its lease is new."""
    run = known.get(fields["id"])
    if run is None or fields.get("att") != str(run.attempt):
        return decode_run(fields)
    return run.evolve(
        state=RunState(fields["st"]),
        owner=fields.get("own") or None,
        lease_token=fields.get("tok") or None,
        lease_expires_at=dt(fields.get("lease")),
        started_at=dt(fields.get("s")),
    )


def flat_to_dict(flat: Any) -> dict[str, str]:
    if isinstance(flat, dict):
        return flat
    return dict(zip(flat[::2], flat[1::2], strict=True))
