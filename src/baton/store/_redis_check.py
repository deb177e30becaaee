"""`baton check` on Redis: what would lose jobs, and what makes schedules cost more.

Refused: an eviction policy other than noeviction (an evicted key is a lost schedule or
run). Warned: no persistence, or only RDB. Warned too: schedule buckets that left Redis's
compact listpack encoding. A bucket's hashes stay compact while every value is at most
``hash-max-listpack-value`` bytes (64 by default; a schedule's definition with a payload
such as ``{"worker_id": "i-0123456789abcdef0"}`` is about 72) and its sorted set while it
holds at most ``zset-max-listpack-entries`` schedules (128 by default; 1,024 buckets hold
about 100 each at 100,000 schedules). Outside it a schedule takes a quarter to a half more
memory (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from baton.model import ScheduleState
from baton.store.base import StoreReport, StoreStats

#: The settings that decide whether a schedule bucket stays compact.
COMPACT_SETTINGS = ("hash-max-listpack-value", "zset-max-listpack-entries")


async def report(
    r: aioredis.Redis, prefix: str, where: str, stats: StoreStats, nbuckets: int
) -> StoreReport:
    """What ``baton check`` shows for the Redis at ``where`` (a URL without password)."""
    info = await r.info()
    policy = str(info.get("maxmemory_policy", "?"))
    config = await _config(r, ["save", "appendonly", "appendfsync", *COMPACT_SETTINGS])
    aof = config.get("appendonly", "yes" if info.get("aof_enabled") else "no") == "yes"
    rdb = bool(config.get("save", "").strip())
    async with r.pipeline(transaction=False) as pipe:
        pipe.zcard(prefix + "runs")
        pipe.xlen(prefix + "ev")
        pipe.hlen(prefix + "nodes")
        kept, events, nodes = await pipe.execute()
    loose, present = await _loose_buckets(r, prefix, nbuckets)
    total = sum(stats.schedules.values())
    facts = {
        "store": f"Redis {info.get('redis_version', '?')} at {where}",
        "key prefix": prefix,
        "maxmemory-policy": policy,
        "maxmemory": str(info.get("maxmemory_human", info.get("maxmemory", "?"))),
        "used memory": str(info.get("used_memory_human", "?")),
        "AOF": f"on (appendfsync {config.get('appendfsync', '?')})" if aof else "off",
        "RDB snapshots": config.get("save", "?") if rdb else "off",
        "schedules": str(total),
        "active schedules": str(stats.schedules.get(ScheduleState.ACTIVE, 0)),
        "compact schedule buckets": f"{present - loose} of {present}",
        "runs queued": str(stats.queued),
        "runs running": str(stats.running),
        "runs kept": str(kept),
        "events": str(events),
        "nodes": str(nodes),
    }
    warnings = _persistence(aof, rdb)
    if loose:
        warnings.append(_loose_warning(loose, present, config))
    return StoreReport(facts=facts, warnings=warnings, problems=_eviction(policy))


async def _config(r: aioredis.Redis, names: list[str]) -> dict[str, str]:
    """CONFIG GET, which managed services may refuse; then only INFO is known."""
    found: dict[str, str] = {}
    for name in names:
        try:
            found.update({str(k): str(v) for k, v in (await r.config_get(name)).items()})
        except RedisError:
            continue
    return found


async def _loose_buckets(r: aioredis.Redis, prefix: str, nbuckets: int) -> tuple[int, int]:
    """How many schedule buckets have a key outside the listpack encoding, of how many
    buckets hold schedules."""
    async with r.pipeline(transaction=False) as pipe:
        for b in range(nbuckets):
            for kind in ("s", "m", "d"):
                pipe.object("encoding", f"{prefix}{kind}:{b}")
        encodings = await pipe.execute()
    loose = present = 0
    for b in range(nbuckets):
        found = {str(e) for e in encodings[b * 3 : b * 3 + 3] if e is not None}
        present += bool(found)
        loose += bool(found - {"listpack"})
    return loose, present


def _eviction(policy: str) -> list[str]:
    if policy == "noeviction":
        return []
    return [
        f"maxmemory-policy is {policy}: Redis may evict keys, and an evicted key is a "
        "lost schedule or run. Set it to noeviction "
        "(CONFIG SET maxmemory-policy noeviction, and in redis.conf)."
    ]


def _persistence(aof: bool, rdb: bool) -> list[str]:
    if not aof and not rdb:
        return [
            "neither AOF nor RDB persistence is on: a Redis restart loses every schedule "
            "(CONFIG SET appendonly yes)."
        ]
    if not aof:
        return [
            "only RDB snapshots persist data: a crash loses what changed since the last "
            "snapshot; AOF (appendonly yes) loses at most a second."
        ]
    return []


def _loose_warning(loose: int, present: int, config: Mapping[str, Any]) -> str:
    now = ", ".join(f"{name} {config.get(name, '?')}" for name in COMPACT_SETTINGS)
    return (
        f"{loose} of {present} schedule buckets left Redis's compact encoding, so their "
        f"schedules take a quarter to a half more memory ({now}). Raise the limits, e.g. "
        "CONFIG SET hash-max-listpack-value 256 and CONFIG SET zset-max-listpack-entries "
        "512 (and in redis.conf); buckets already converted become compact again when "
        "Redis next loads its data (a restart)."
    )
