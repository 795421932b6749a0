"""The weight governor never lets a window's spend pass the budget, learns from the server's
header, obeys Retry-After, and shares one budget across processes (file) and bots (Redis)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.storage.redis_health import RedisHealth, redis_client
from slt.venues.binance.governor import (
    WINDOW_MS,
    Charge,
    MemoryStore,
    WeightGovernor,
    WeightTooLargeError,
    decide,
)
from slt.venues.binance.governor_stores import FailoverStore, FileStore, RedisStore

from ....conftest import REDIS_URL, TcpProxy, redis_answers

T0 = 1_749_513_600_000  # a minute boundary


class FakeTime:
    """A clock the governor's sleeps move forward, so waiting costs no real time."""

    def __init__(self, now: int = T0) -> None:
        self.now = now
        self.slept: list[float] = []

    def clock(self) -> int:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += round(seconds * 1000)


def governor(t: FakeTime, store: object | None = None, limit: int = 100) -> WeightGovernor:
    return WeightGovernor(store, limit=limit, share=1.0, clock=t.clock, sleep=t.sleep)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(0, 30_000)), min_size=1, max_size=60))
def test_no_window_is_ever_overspent(calls: list[tuple[int, int]]) -> None:
    t = FakeTime()
    gov = governor(t)
    spent: dict[int, int] = {}

    async def run() -> None:
        for weight, gap in calls:
            t.now += gap
            await gov.acquire(weight)
            window = t.now - t.now % WINDOW_MS
            spent[window] = spent.get(window, 0) + weight

    asyncio.run(run())
    assert max(spent.values()) <= 100
    assert gov.charged == sum(w for w, _ in calls)


def test_a_full_window_waits_for_the_next_minute_exactly() -> None:
    t = FakeTime(T0 + 45_000)
    gov = governor(t)

    async def run() -> None:
        await gov.acquire(90)
        await gov.acquire(20)  # does not fit: waits the 15 s left in this minute

    asyncio.run(run())
    assert t.slept == [15.0] and t.now == T0 + WINDOW_MS
    with pytest.raises(WeightTooLargeError, match="exceeds the whole budget"):
        asyncio.run(gov.acquire(101))


def test_the_server_header_raises_the_spend_and_retry_after_blocks_everyone() -> None:
    t = FakeTime(T0 + 1_000)
    gov = governor(t)

    async def run() -> None:
        await gov.acquire(10)
        await gov.observe("95")  # another bot on the IP spent more than we know
        assert await gov.used() == 95
        await gov.observe("12")  # a lower figure never lowers what we count
        await gov.observe(None)
        await gov.observe("garbage")
        assert await gov.used() == 95
        await gov.acquire(5)
        assert t.slept == []
        await gov.acquire(1)  # 101 > 100: next minute
        assert t.now == T0 + WINDOW_MS
        await gov.back_off(7.5)  # 429 with Retry-After: 7.5 s
        await gov.acquire(1)
        assert t.now == T0 + WINDOW_MS + 7_500

    asyncio.run(run())


@pytest.mark.parametrize("share", [0.0, 1.5])
def test_the_share_must_be_a_fraction(share: float) -> None:
    with pytest.raises(ValueError, match="share"):
        WeightGovernor(share=share)


def test_processes_share_one_budget_through_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes charging at once through one file: no charge is lost (the lock works)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import governor_jobs

    path = tmp_path / "weight.bin"
    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        done = list(pool.map(governor_jobs.charge_many, [str(path)] * 2, [400, 400], timeout=60))
    assert done == [400, 400]
    store = FileStore(path)
    try:
        assert asyncio.run(store.used(governor_jobs.T0 + 2)) == 800
    finally:
        store.close()


@pytest.fixture(scope="module")
def redis_from_url():  # type: ignore[no-untyped-def]
    import redis.asyncio as aioredis

    if not redis_answers():
        pytest.skip(f"no Redis server answers at {REDIS_URL} (set SLT_TEST_REDIS_URL)")
    return aioredis.from_url


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("charge"), st.integers(1, 60), st.integers(0, 40_000)),
            st.tuples(st.just("observe"), st.integers(0, 150), st.integers(0, 40_000)),
            st.tuples(st.just("block"), st.integers(0, 90_000), st.integers(0, 40_000)),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_redis_applies_the_same_rule_as_memory(redis_from_url, ops) -> None:  # type: ignore[no-untyped-def]
    async def run() -> None:
        client = redis_from_url(REDIS_URL)
        key = f"slt:test:weight:{os.getpid()}"
        await client.delete(key)
        redis, memory = RedisStore(client, key), MemoryStore()
        now = T0
        try:
            for kind, value, gap in ops:
                now += gap
                if kind == "charge":
                    a = await redis.try_charge(value, 100, now)
                    b = await memory.try_charge(value, 100, now)
                    assert a == b
                elif kind == "observe":
                    await redis.observe(value, now)
                    await memory.observe(value, now)
                else:
                    await redis.block_until(now + value)
                    await memory.block_until(now + value)
                assert await redis.used(now) == await memory.used(now)
        finally:
            await client.delete(key)
            await client.aclose()

    asyncio.run(run())


def test_decide_starts_a_fresh_window_each_minute() -> None:
    assert decide(T0, 100, 0, 1, 100, T0 + WINDOW_MS) == (T0 + WINDOW_MS, 1, 0)
    assert decide(T0, 100, 0, 1, 100, T0 + 59_999) == (T0, 100, 1)
    assert decide(T0, 0, T0 + 5_000, 1, 100, T0 + 1_000) == (T0, 0, 4_000)


def test_the_shared_governor_uses_a_file_or_redis_from_the_settings(tmp_path: Path) -> None:
    from slt.config import load_settings
    from slt.venues.binance.governor_stores import shared_governor

    plain = shared_governor(load_settings(data_dir=tmp_path), "fapi.binance.com")
    assert isinstance(plain.store, FileStore) and plain.budget == 1920
    assert plain.store.path == tmp_path / "run" / "weight-fapi.binance.com.bin"
    plain.store.close()
    settings = load_settings(data_dir=tmp_path, redis_url=REDIS_URL, venue={"weight_share": 0.5})
    shared = shared_governor(settings, "127.0.0.1:8900")
    assert isinstance(shared.store, FailoverStore) and shared.budget == 1200
    assert shared.store.key == "slt:weight:127.0.0.1_8900"
    assert shared.store.local.path == tmp_path / "run" / "weight-127.0.0.1_8900.bin"


async def test_a_redis_outage_moves_the_budget_to_the_local_file_and_back(
    redis_from_url, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """Redis gone: charges go on (no error reaches the caller, no call waits on a dead
    server), the budget is counted in the machine's file, one warning says so; Redis back:
    the window lives in Redis again."""
    caplog.set_level(logging.INFO, logger="slt.test.governor")
    proxy = TcpProxy.in_front_of(REDIS_URL, 6379)
    await proxy.start()
    wall = FakeTime()
    health = RedisHealth(
        "Redis weight budget",
        "counting in the file",
        log=logging.getLogger("slt.test.governor"),
        clock=wall.clock,
    )
    key = f"slt:test:failover:{os.getpid()}"
    shared = RedisStore(redis_client(proxy.route(REDIS_URL)), key)
    store = FailoverStore(shared, FileStore(tmp_path / "weight.bin"), health)
    try:
        await shared.client.delete(key)
        assert await store.try_charge(10, 100, T0) == Charge(0, 10)
        assert await store.local.used(T0) == 0

        await proxy.stop()
        started = time.monotonic()
        for i in range(20):
            wall.now += 100
            assert (await store.try_charge(5, 100, T0 + i)).used == 5 * (i + 1)
        await store.block_until(T0 + 30_000)  # a 429 meanwhile still holds here
        assert time.monotonic() - started < 2.0  # one failed call, then Redis is skipped
        assert await store.used(T0 + 30) == 100 and not health.up
        assert (await store.try_charge(1, 1_000, T0 + 40)).wait_ms == 29_960
        assert health.warnings == 1
        assert "Redis weight budget unreachable" in caplog.text

        await proxy.start()
        wall.now += health.retry_every_ms
        assert await store.try_charge(1, 100, T0 + 50) == Charge(0, 11)
        assert health.up and health.epoch == 1
        assert "Redis weight budget reachable again" in caplog.text
    finally:
        await proxy.stop()
        await shared.client.aclose()
        direct = redis_from_url(REDIS_URL)
        await direct.delete(key)
        await direct.aclose()
        store.local.close()
