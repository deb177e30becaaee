"""Circuit breakers on every store: each transition atomic, every node sees the same one."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from baton.model import BreakerPolicy, BreakerState, RunState
from baton.store._breakers import Verdict
from baton.store.base import BreakerReport, ClaimRequest, Completion, Outcome, Store
from tests.conftest import Clock, make_store
from tests.contract.helpers import run

LEASE = timedelta(seconds=30)
DEP = BreakerPolicy(
    key="dep", failures=3, window=timedelta(seconds=30), cooldown=timedelta(seconds=3)
)


async def attempt(store: Store, run_id: str, verdict: Verdict, clock: Clock) -> None:
    """One run that claims, runs and reports ``verdict`` to the breaker ``dep``."""
    await store.enqueue_run(run(run_id, clock.now, max_attempts=5))
    (claimed,) = await store.claim_runs(ClaimRequest(owner="n1", limit=1, lease=LEASE))
    state = {
        Verdict.SUCCESS: RunState.SUCCEEDED,
        Verdict.FAILURE: RunState.DEAD,
        Verdict.NEITHER: RunState.CANCELLED,
    }[verdict]
    report = BreakerReport(key="dep", policy=DEP, verdict=verdict)
    outcome = Outcome(state=state, breaker=report)
    done = Completion(run_id=claimed.id, lease_token=claimed.lease_token or "", outcome=outcome)
    assert await store.complete_runs([done]) == [True]


async def breaker_state(store: Store) -> BreakerState:
    (found,) = [b for b in await store.breakers() if b.key == "dep"]
    return found.state


async def opened(store: Store, clock: Clock) -> None:
    for n in range(3):
        await attempt(store, f"f{n}", Verdict.FAILURE, clock)


async def test_failures_within_the_window_open_the_breaker(store: Store, clock: Clock) -> None:
    assert (await store.pass_breaker("dep", "r0", DEP)).allowed
    await attempt(store, "f0", Verdict.FAILURE, clock)
    clock.advance(31)  # the first failure leaves the window
    await attempt(store, "f1", Verdict.FAILURE, clock)
    await attempt(store, "f2", Verdict.FAILURE, clock)
    assert await breaker_state(store) is BreakerState.CLOSED
    await attempt(store, "f3", Verdict.FAILURE, clock)
    assert await breaker_state(store) is BreakerState.OPEN
    refused = await store.pass_breaker("dep", "r1", DEP)
    assert not refused.allowed and refused.wait == timedelta(seconds=3)
    kinds = [e.kind for e in await store.read_events(limit=1000)]
    assert kinds.count("breaker.opened") == 1


async def test_after_the_cooldown_one_run_probes_and_its_success_closes(
    store: Store, clock: Clock
) -> None:
    await opened(store, clock)
    clock.advance(3)
    probe = await store.pass_breaker("dep", "probe", DEP)
    assert probe.allowed and probe.breaker is not None
    assert probe.breaker.state is BreakerState.HALF_OPEN and probe.breaker.probe == "probe"
    other = await store.pass_breaker("dep", "other", DEP)
    assert not other.allowed and other.wait >= timedelta(seconds=1)
    assert (await store.pass_breaker("dep", "probe", DEP)).allowed  # rerun of the probe
    await attempt(store, "probe", Verdict.SUCCESS, clock)
    assert await breaker_state(store) is BreakerState.CLOSED
    assert (await store.pass_breaker("dep", "other", DEP)).allowed
    kinds = [e.kind for e in await store.read_events(limit=1000) if e.kind.startswith("breaker")]
    assert kinds == ["breaker.opened", "breaker.half_opened", "breaker.closed"]


async def test_a_failed_probe_opens_the_breaker_again(store: Store, clock: Clock) -> None:
    await opened(store, clock)
    clock.advance(3)
    assert (await store.pass_breaker("dep", "probe", DEP)).allowed
    await attempt(store, "probe", Verdict.FAILURE, clock)
    assert await breaker_state(store) is BreakerState.OPEN
    refused = await store.pass_breaker("dep", "next", DEP)
    assert not refused.allowed and refused.wait == timedelta(seconds=3)


async def test_a_probe_that_neither_passes_nor_fails_hands_the_probe_on(
    store: Store, clock: Clock
) -> None:
    await opened(store, clock)
    clock.advance(3)
    assert (await store.pass_breaker("dep", "probe", DEP)).allowed
    await attempt(store, "probe", Verdict.NEITHER, clock)
    second = await store.pass_breaker("dep", "second", DEP)
    assert second.allowed and second.breaker is not None and second.breaker.probe == "second"


async def test_a_reset_closes_the_breaker(store: Store, clock: Clock) -> None:
    assert await store.reset_breaker("dep") is None
    await opened(store, clock)
    reset = await store.reset_breaker("dep", reason="fixed by hand")
    assert reset is not None and reset.state is BreakerState.CLOSED
    assert (await store.pass_breaker("dep", "any", DEP)).allowed
    closed = [e for e in await store.read_events(limit=1000) if e.kind == "breaker.closed"]
    assert closed[-1].data == {"reason": "fixed by hand"}


async def test_a_run_sent_back_to_wait_keeps_its_attempt(store: Store, clock: Clock) -> None:
    await store.enqueue_run(run("r1", clock.now, max_attempts=1))
    (claimed,) = await store.claim_runs(ClaimRequest(owner="n1", limit=1, lease=LEASE))
    wait = Outcome(state=RunState.QUEUED, retry_delay=timedelta(seconds=3), note="waiting")
    done = Completion(run_id="r1", lease_token=claimed.lease_token or "", outcome=wait)
    assert await store.complete_runs([done]) == [True]
    got = await store.get_run("r1")
    assert got is not None and got.state is RunState.QUEUED and got.attempt == 1
    assert got.due_at == clock.now + timedelta(seconds=3) and got.note == "waiting"
    assert got.started_at is None and got.finished_at is None
    assert await store.claim_runs(ClaimRequest(owner="n1", limit=1, lease=LEASE)) == []
    clock.advance(3)
    assert len(await store.claim_runs(ClaimRequest(owner="n1", limit=1, lease=LEASE))) == 1


@pytest.fixture(params=["sqlite", "redis"])
def shared_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_three_nodes_racing_after_the_cooldown_get_exactly_one_probe(
    shared_kind: str, tmp_path: Path, clock: Clock, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("redis_url") if shared_kind == "redis" else ""
    async with (
        make_store(shared_kind, tmp_path, clock, url) as a,
        make_store(shared_kind, tmp_path, clock, url) as b,
        make_store(shared_kind, tmp_path, clock, url) as c,
    ):
        await opened(a, clock)
        for period in range(3):
            clock.advance(3)
            asks = [
                s.pass_breaker("dep", f"{period}-{s_i}-{n}", DEP)
                for s_i, s in enumerate((a, b, c))
                for n in range(5)
            ]
            admitted = [x for x in await asyncio.gather(*asks) if x.allowed]
            assert len(admitted) == 1, period
            probe = admitted[0].breaker
            assert probe is not None and probe.probe is not None
            await attempt(a, probe.probe, Verdict.FAILURE, clock)  # open again
