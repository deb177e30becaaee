"""baton on Redis against APScheduler 3.11 with its RedisJobStore, on one redis-server.

    python benchmarks/bench_redis.py [--quick] [--out docs/benchmarks.md]

The script starts its own redis-server (AOF on, appendfsync everysec) pinned to core 1
and runs every measurement in a fresh interpreter pinned to core 0 (``taskset``), on a
flushed database. Figures:

- adds/s: schedules added in bulk (baton ``add_many``; APScheduler has no bulk call, so
  ``add_job`` one at a time);
- burst: 20,000 no-op one-off jobs due at one instant, timed until the last has run;
- lateness p50/p99 (start minus fire time, measured inside the job) at a steady 1,000
  and 5,000 fires/s (interval schedules of one second, starts spread over the second),
  and how many of the expected fires never ran;
- bytes per schedule: Redis ``used_memory`` delta / count, with and without the event
  log that the adds wrote (baton bounds it; it is history, not schedule);
- idle CPU of a node holding 100,000 schedules due in an hour, over 20 s.

baton also runs with two nodes (the second on core 1, beside Redis). Two last rows put
the burst figures in proportion, each without a scheduler: a bare loop popping batches
of 100 from a sorted set and writing one small hash per item (the ceiling), and the
writes one fired, claimed and finished run needs at the least, as two Lua scripts per
100 runs (the floor of any design that keeps a run's record, lease and events).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECTION = "## Redis: baton against APScheduler 3.11 (RedisJobStore)"
RARE_REWRITES = "AOF rewrites rare"
BARE = "bare loop: pop 100, one hash each"
FLOOR = "a run's least writes, in Lua"

# -- the job types ------------------------------------------------------------------------

from baton import Baton, NodeConfig, RunContext, job  # noqa: E402

_LATE: list[float] = []


@job("bench-noop")
async def noop() -> None:
    return None


@job("bench-late")
async def late(ctx: RunContext) -> None:
    _LATE.append(time.time() - ctx.fire_at.timestamp())


_AP_DONE: list[float] = []
_AP_LATE: list[float] = []


async def ap_noop() -> None:
    _AP_DONE.append(time.time())


_AP_COUNT: dict[float, int] = {}


async def ap_late(first: float) -> None:
    # APScheduler does not tell a job its scheduled time; with coalescing off and no
    # misfire limit, the k-th call of a one-second job is the k-th tick after `first`.
    now = time.time()
    k = _AP_COUNT.get(first, 0)
    _AP_COUNT[first] = k + 1
    _AP_LATE.append(now - (first + k))


# -- a baton node as its own process ------------------------------------------------------


def start_nodes(url: str, count: int, seconds: float, out: Path) -> list[subprocess.Popen[str]]:
    procs = []
    for n in range(count):
        cores = "0" if n == 0 else "1"
        procs.append(
            subprocess.Popen(
                [
                    "taskset",
                    "-c",
                    cores,
                    sys.executable,
                    __file__,
                    "--node",
                    url,
                    str(seconds),
                    str(out / f"node{n}.json"),
                    f"node{n}",
                ],
                cwd=ROOT,
            )
        )
    return procs


async def node_main(url: str, seconds: float, out: str, name: str) -> None:
    config = NodeConfig(name=name, concurrency=1000, tune_gc=True)  # as `baton worker` does
    warmup = min(2.0, seconds / 4)
    async with Baton(store=url, jobs=[noop, late], node=config) as baton:
        task = asyncio.create_task(baton.serve(handle_signals=False))
        await asyncio.sleep(warmup)  # the CPU of starting up is not idle CPU
        started = time.process_time()
        await asyncio.sleep(seconds - warmup)
        cpu = time.process_time() - started
        baton.stop()
        await task
    report = {"late": _LATE, "cpu": cpu, "window": seconds - warmup}
    Path(out).write_text(json.dumps(report))


def _collect(out: Path) -> tuple[list[float], float]:
    """Lateness samples of every node, and CPU share of the first node's window."""
    late, cpu = [], 0.0
    for file in sorted(out.glob("node*.json")):
        data = json.loads(file.read_text())
        late += data["late"]
        cpu = cpu or data["cpu"] / data["window"]
    return late, cpu


def _percentiles(samples: list[float], expected: int) -> dict[str, float]:
    q = statistics.quantiles(sorted(samples), n=100)
    return {"p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "missed": expected - len(samples)}


# -- baton measurements ---------------------------------------------------------------------


async def baton_adds(url: str, count: int) -> dict[str, float]:
    import redis

    client = redis.Redis.from_url(url)
    async with Baton(store=url, jobs=[noop]) as baton:
        before = client.info("memory")["used_memory"]
        started = time.perf_counter()
        entries = [
            {
                "job": noop,
                "id": f"worker-metrics:w-{i:06}",
                "trigger": {"interval": {"seconds": 3600, "jitter": 10}},
            }
            for i in range(count)
        ]
        await baton.add_many(entries)
        elapsed = time.perf_counter() - started
        used = client.info("memory")["used_memory"] - before
        events = client.memory_usage("baton:ev") or 0
    return {
        "adds_per_s": count / elapsed,
        "bytes": used / count,
        "bytes_no_events": (used - events) / count,
    }


async def baton_burst(url: str, count: int, nodes: int, tmp: Path) -> dict[str, float]:
    import redis

    async with Baton(store=url, jobs=[noop]) as baton:
        due = (await baton.store.now()) + timedelta(seconds=4)
        await baton.add_many(
            [
                {
                    "job": noop,
                    "id": f"burst-{i}",
                    "trigger": {"date": due.isoformat()},
                    "policy": {"misfire_grace": None},
                }
                for i in range(count)
            ]
        )
        if await baton.store.now() >= due:
            raise RuntimeError("adding the one-offs took longer than the head start")
    procs = start_nodes(url, nodes, (due - datetime.now(UTC)).total_seconds() + 30, tmp)
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 120
    while client.zcard("baton:fin") < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    last = client.zrange("baton:fin", -1, -1, withscores=True)[0][1] / 1e6
    for proc in procs:
        proc.terminate()
        proc.wait()
    elapsed = last - due.timestamp()
    return {"burst_per_s": count / elapsed, "burst_s": elapsed}


async def baton_lateness(
    url: str, rate: int, seconds: float, nodes: int, tmp: Path
) -> dict[str, float]:
    async with Baton(store=url, jobs=[late]) as baton:
        start = (await baton.store.now()).replace(microsecond=0) + timedelta(seconds=5)
        end = start + timedelta(seconds=seconds)
        await baton.add_many(
            [
                {
                    "job": late,
                    "id": f"late-{i}",
                    "trigger": {
                        "interval": {
                            "seconds": 1,
                            "start": (start + timedelta(seconds=i / rate)).isoformat(),
                            "end": (end - timedelta(microseconds=1)).isoformat(),
                        }
                    },
                }
                for i in range(rate)
            ]
        )
    procs = start_nodes(url, nodes, (end - datetime.now(UTC)).total_seconds() + 3, tmp)
    for proc in procs:
        proc.wait()
    samples, _ = _collect(tmp)
    return _percentiles(samples, rate * int(seconds))


async def baton_idle(url: str, count: int, seconds: float, tmp: Path) -> dict[str, float]:
    async with Baton(store=url, jobs=[noop]) as baton:
        await baton.add_many(
            [
                {"job": noop, "id": f"idle-{i}", "trigger": {"interval": {"hours": 1}}}
                for i in range(count)
            ]
        )
    for proc in start_nodes(url, 1, seconds, tmp):
        proc.wait()
    _, share = _collect(tmp)
    return {"idle_cpu_pct": share * 100}


# -- APScheduler measurements -------------------------------------------------------------


def _ap(url: str):  # type: ignore[no-untyped-def]
    from apscheduler.executors.asyncio import AsyncIOExecutor
    from apscheduler.jobstores.redis import RedisJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    port, db = url.rsplit(":", 1)[1].split("/")
    store = RedisJobStore(host="127.0.0.1", port=int(port), db=int(db))
    return AsyncIOScheduler(
        jobstores={"default": store},
        executors={"default": AsyncIOExecutor()},
        job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 1000},
        timezone=UTC,
    )


async def ap_adds(url: str, count: int) -> dict[str, float]:
    import redis
    from apscheduler.triggers.interval import IntervalTrigger

    client = redis.Redis.from_url(url)
    scheduler = _ap(url)
    scheduler.start(paused=True)
    before = client.info("memory")["used_memory"]
    started = time.perf_counter()
    for i in range(count):
        scheduler.add_job(
            ap_noop,
            IntervalTrigger(seconds=3600, jitter=10, timezone=UTC),
            id=f"worker-metrics:w-{i:06}",
        )
    elapsed = time.perf_counter() - started
    used = client.info("memory")["used_memory"] - before
    scheduler.shutdown(wait=False)
    return {"adds_per_s": count / elapsed, "bytes": used / count, "bytes_no_events": used / count}


async def ap_burst(url: str, count: int) -> dict[str, float]:
    from apscheduler.triggers.date import DateTrigger

    scheduler = _ap(url)
    scheduler.start(paused=True)
    due = datetime.now(UTC) + timedelta(seconds=count / 1500 + 3)
    for i in range(count):
        scheduler.add_job(ap_noop, DateTrigger(due, timezone=UTC), id=f"burst-{i}")
    if datetime.now(UTC) >= due:
        raise RuntimeError("adding the one-offs took longer than the head start")
    _AP_DONE.clear()
    scheduler.resume()
    deadline = time.monotonic() + 300
    while len(_AP_DONE) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    scheduler.shutdown(wait=False)
    elapsed = max(_AP_DONE) - due.timestamp()
    return {"burst_per_s": len(_AP_DONE) / elapsed, "burst_s": elapsed}


async def ap_lateness(url: str, rate: int, seconds: float) -> dict[str, float]:
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = _ap(url)
    scheduler.start(paused=True)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5 + rate / 2000)
    end = start + timedelta(seconds=seconds)
    for i in range(rate):
        first = start + timedelta(seconds=i / rate)
        scheduler.add_job(
            ap_late,
            IntervalTrigger(
                seconds=1, start_date=first, end_date=end - timedelta(microseconds=1), timezone=UTC
            ),
            args=[first.timestamp()],
            id=f"late-{i}",
        )
    _AP_LATE.clear()
    scheduler.resume()
    await asyncio.sleep((end - datetime.now(UTC)).total_seconds() + 3)
    scheduler.shutdown(wait=False)
    return _percentiles(_AP_LATE, rate * int(seconds))


async def ap_idle(url: str, count: int, seconds: float) -> dict[str, float]:
    from apscheduler.triggers.interval import IntervalTrigger

    scheduler = _ap(url)
    scheduler.start(paused=True)
    for i in range(count):
        scheduler.add_job(ap_noop, IntervalTrigger(hours=1, timezone=UTC), id=f"idle-{i}")
    scheduler.resume()
    started = time.process_time()
    await asyncio.sleep(seconds)
    cpu = time.process_time() - started
    scheduler.shutdown(wait=False)
    return {"idle_cpu_pct": cpu / seconds * 100}


async def bare_burst(url: str, count: int) -> dict[str, float]:
    """The ceiling the burst figures sit under: no scheduler, a loop popping batches of
    100 from a sorted set and writing one small hash per item (no lease, no history, no
    events)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    await client.zadd("bare:due", {f"burst-{i}": i for i in range(count)})
    started = time.perf_counter()
    while items := await client.zpopmin("bare:due", 100):
        async with client.pipeline(transaction=False) as pipe:
            for member, score in items:
                pipe.hset(b"bare:r:" + member, mapping={"st": "done", "due": int(score)})
            await pipe.execute()
    elapsed = time.perf_counter() - started
    await client.aclose()
    return {"burst_per_s": count / elapsed, "burst_s": elapsed}


# The writes one fired, claimed and finished one-off needs at the least, as two Lua
# scripts over batches of 100: the schedule removed from its bucket, a 12-field run hash
# with its lease and concurrency count, then the outcome, its finished index and the
# count released; one stream entry of events per script. No planning, no checks.
_FLOOR_FIRE = """
local ev = {}
for i = 1, #ARGV do
  local id = ARGV[i]
  local b = 'floor:' .. (tonumber(string.match(id, '%d+')) % 1024)
  redis.call('HDEL', b .. ':s', id)
  redis.call('HDEL', b .. ':m', id)
  redis.call('ZREM', b .. ':d', id)
  local rid = id .. '@2026-11-27T10:00:00Z'
  redis.call('HSET', 'floor:r:' .. rid, 'sid', id, 'type', 'noop', 'payload', '{}',
    'pri', '0', 'mc', '1', 'due', '1795776772761299', 'att', '1', 'st', 'running',
    'own', 'node', 'tok', '7f0dfa83dee8000d', 'lease', '1795776803383045',
    's', '1795776773383045')
  redis.call('ZADD', 'floor:leases', '1795776803383045', rid)
  redis.call('HINCRBY', 'floor:conc', id, 1)
  ev[#ev + 1] = '["run.started","' .. rid .. '",{"type":"noop","attempt":1}]'
end
redis.call('XADD', 'floor:ev', '*', 'b', '[' .. table.concat(ev, ',') .. ']')
"""
_FLOOR_COMPLETE = """
local ev = {}
for i = 1, #ARGV do
  local rid = ARGV[i] .. '@2026-11-27T10:00:00Z'
  local f = redis.call('HMGET', 'floor:r:' .. rid, 'st', 'tok', 'sid', 's')
  redis.call('ZREM', 'floor:leases', rid)
  if redis.call('HINCRBY', 'floor:conc', f[3], -1) <= 0 then
    redis.call('HDEL', 'floor:conc', f[3])
  end
  redis.call('HSET', 'floor:r:' .. rid, 'st', 'succeeded', 'f', '1795776773383999', 'tok', '')
  redis.call('ZADD', 'floor:fin', '1795776773383999', rid)
  ev[#ev + 1] = '["run.succeeded","' .. rid .. '",{"type":"noop","attempt":1}]'
end
redis.call('XADD', 'floor:ev', '*', 'b', '[' .. table.concat(ev, ',') .. ']')
"""


async def floor_burst(url: str, count: int) -> dict[str, float]:
    """What Redis can do per run with the least a run must write (see above)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url)
    ids = [f"burst-{i}" for i in range(count)]
    async with client.pipeline(transaction=False) as pipe:
        for i, sid in enumerate(ids):
            bucket = f"floor:{i % 1024}"
            pipe.hset(bucket + ":s", sid, '["shape",{},1795776772761,null]')
            pipe.hset(bucket + ":m", sid, '[1,null,"active",1795776772761]')
            pipe.zadd(bucket + ":d", {sid: 1795776772761299})
        await pipe.execute()
    fire = client.register_script(_FLOOR_FIRE)
    complete = client.register_script(_FLOOR_COMPLETE)
    started = time.perf_counter()
    async with client.pipeline(transaction=False) as pipe:
        for at in range(0, count, 100):
            chunk = ids[at : at + 100]
            await fire(args=chunk, client=pipe)
            await complete(args=chunk, client=pipe)
        await pipe.execute()
    elapsed = time.perf_counter() - started
    await client.aclose()
    return {"burst_per_s": count / elapsed, "burst_s": elapsed}


# -- orchestration --------------------------------------------------------------------------


async def child(contender: str, measure: str, args: list[str]) -> dict[str, float]:
    url = os.environ["BENCH_REDIS_URL"]
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    if contender.endswith(RARE_REWRITES):
        # As docs/operations.md advises for thousands of runs per second.
        client.config_set("auto-aof-rewrite-min-size", "4gb")
    try:
        return await _measure(url, contender, measure, args)
    finally:
        client.config_set("auto-aof-rewrite-min-size", "64mb")


async def _measure(url: str, contender: str, measure: str, args: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if contender == BARE:
            return await bare_burst(url, int(args[0]))
        if contender == FLOOR:
            return await floor_burst(url, int(args[0]))
        if contender.startswith("baton"):
            nodes = 2 if contender.endswith("2 nodes") else 1
            if measure == "adds":
                return await baton_adds(url, int(args[0]))
            if measure == "burst":
                return await baton_burst(url, int(args[0]), nodes, folder)
            if measure == "idle":
                return await baton_idle(url, int(args[0]), float(args[1]), folder)
            return await baton_lateness(url, int(args[0]), float(args[1]), nodes, folder)
        if measure == "adds":
            return await ap_adds(url, int(args[0]))
        if measure == "burst":
            return await ap_burst(url, int(args[0]))
        if measure == "idle":
            return await ap_idle(url, int(args[0]), float(args[1]))
        return await ap_lateness(url, int(args[0]), float(args[1]))


def one(url: str, contender: str, measure: str, *args: object) -> dict[str, float]:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            __file__,
            "--one",
            contender,
            measure,
            *map(str, args),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "BENCH_REDIS_URL": url},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{contender} {measure} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            "taskset",
            "-c",
            "1",
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return proc, port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", nargs="+")
    parser.add_argument("--node", nargs=4)
    parser.add_argument("--quick", action="store_true", help="smaller runs, no doc update")
    parser.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    if args.node:
        url, seconds, out, name = args.node
        asyncio.run(node_main(url, float(seconds), out, name))
        return
    if args.one:
        contender, measure, *rest = args.one
        print(json.dumps(asyncio.run(child(contender, measure, rest))))
        return
    quick = args.quick
    adds, burst, secs = (5000, 5000, 5) if quick else (20000, 20000, 15)
    idle_n, idle_s = (10000, 5) if quick else (100_000, 20)
    with tempfile.TemporaryDirectory() as tmp:
        server, port = start_redis(Path(tmp))
        url = f"redis://127.0.0.1:{port}/0"
        results: dict[str, dict[str, float]] = {}
        try:
            plan = {
                "baton": ["adds", "burst", "late1k", "late5k", "idle"],
                "baton, 2 nodes": ["burst", "late5k"],
                f"baton, {RARE_REWRITES}": ["late1k", "late5k"],
                "apscheduler-redis": ["adds", "burst", "late1k", "late5k", "idle"],
                BARE: ["burst"],
                FLOOR: ["burst"],
            }
            for contender, measures in plan.items():
                figures: dict[str, float] = {}
                for measure in measures:
                    if measure == "adds":
                        figures.update(one(url, contender, "adds", adds))
                    elif measure == "burst":
                        figures.update(one(url, contender, "burst", burst))
                    elif measure == "idle":
                        figures.update(one(url, contender, "idle", idle_n, idle_s))
                    else:
                        rate = 1000 if measure == "late1k" else 5000
                        found = one(url, contender, "late", rate, secs)
                        figures.update({f"{k}@{rate}": v for k, v in found.items()})
                results[contender] = figures
                print(contender, json.dumps(figures), flush=True)
        finally:
            server.terminate()
            server.wait()
    table = render(results, adds=adds, burst=burst, secs=secs, idle_n=idle_n, idle_s=idle_s)
    print(table)
    if not quick:
        from benchmarks.bench_sqlite import write_section

        write_section(Path(args.out), table, SECTION)


def _cell(figures: dict[str, float], key: str, fmt: str) -> str:
    return format(figures[key], fmt) if key in figures else "-"


def render(results: dict[str, dict[str, float]], **p: Any) -> str:
    lines = [
        SECTION,
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, redis-py with hiredis, by "
        "`python benchmarks/bench_redis.py`. Redis 7 (AOF, appendfsync everysec) on core 1, "
        "Python on core 0; baton's second node on core 1 beside Redis. "
        f"'{RARE_REWRITES}': the same Redis with `auto-aof-rewrite-min-size 4gb` (as "
        "docs/operations.md advises at thousands of runs per second); every other row "
        "runs with Redis's default rewrite settings.",
        f"Adds: {p['adds']:,} schedules. Burst: {p['burst']:,} no-op one-offs due at one "
        f"instant. Lateness: {p['secs']} s at each rate. Idle: {p['idle_n']:,} schedules "
        f"due in an hour, CPU over {p['idle_s']} s. The last two rows run no scheduler: "
        "they bound the burst figures (see the script's docstring).",
        "",
        "| contender | adds/s | burst fires/s | p50 / p99 ms @1k/s | missed @1k/s "
        "| p50 / p99 ms @5k/s | missed @5k/s | bytes/schedule (without events) | idle CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in results.items():
        late1 = f"{f['p50_ms@1000']:.2f} / {f['p99_ms@1000']:.2f}" if "p50_ms@1000" in f else "-"
        late5 = f"{f['p50_ms@5000']:.2f} / {f['p99_ms@5000']:.2f}" if "p50_ms@5000" in f else "-"
        size = f"{f['bytes']:.0f} ({f['bytes_no_events']:.0f})" if "bytes" in f else "-"
        lines.append(
            f"| {name} | {_cell(f, 'adds_per_s', ',.0f')} | {_cell(f, 'burst_per_s', ',.0f')} "
            f"| {late1} | {_cell(f, 'missed@1000', '.0f')} | {late5} "
            f"| {_cell(f, 'missed@5000', '.0f')} | {size} | {_cell(f, 'idle_cpu_pct', '.2f')} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
