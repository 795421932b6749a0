"""Redis stops mid-use (a TCP proxy between the cache and the real server is stopped, then
started again): no exception reaches the caller, the source serves, the L2 hit rate drops,
one warning per minute is logged, and after the restart L2 hits again with nothing stale.
"""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis.asyncio as aioredis

from slt.domain.candle import Candle
from slt.storage.cache import BytesCodec, TieredCache
from slt.storage.cache_l2 import RedisTier
from slt.storage.cache_market import MarketCache
from slt.storage.redis_health import redis_client

from ...conftest import TcpProxy
from .conftest import T0, FakeClock

pytestmark = pytest.mark.integration

L1_TTL_MS = 10_000
RETRY_MS = 5_000


def candle(symbol: str, open_time: int, close: float) -> Candle:
    return Candle(symbol, open_time, open_time + 59_999, close, close, close, close, 1.0)


class Store:
    """L3: the candle store, counting its reads."""

    def __init__(self) -> None:
        self.latest: dict[str, Candle] = {}
        self.reads = 0

    def loader(self, symbol: str):  # type: ignore[no-untyped-def]
        async def load() -> Candle | None:
            self.reads += 1
            return self.latest.get(symbol)

        return load


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "slt.storage.cache" and r.levelno == logging.WARNING
    ]


async def read_all(market: MarketCache, store: Store, symbols: list[str]) -> None:
    for s in symbols:
        assert await market.latest_candle(s, "1m", store.loader(s)) == store.latest[s]


async def test_redis_stopped_no_crash_hit_rate_drops_recovers_on_restart(
    redis_url: str,
    proxy: TcpProxy,
    raw_redis: aioredis.Redis,
    tag: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="slt.storage.cache")
    clock = FakeClock()
    l2 = RedisTier(
        redis_client(proxy.route(redis_url), timeout_s=0.3),
        retry_every_ms=RETRY_MS,
        warn_every_ms=60_000,
        clock=clock,
    )
    market = MarketCache(l2, l1_ttl_ms=L1_TTL_MS, clock=clock)
    store = Store()
    symbols = [f"S{i}{tag}USDT" for i in range(5)]
    for i, s in enumerate(symbols):
        store.latest[s] = candle(s, T0, 100.0 + i)
        await market.put_candle("1m", store.latest[s])

    # Healthy: once memory has expired, every read is an L2 hit.
    clock.advance(L1_TTL_MS)
    before = market.stats()
    await read_all(market, store, symbols)
    healthy = market.stats() - before
    assert healthy.rates()["l2"] == 1.0 and store.reads == 0

    # Redis "stops". Reads keep working from the store; the L2 rate falls to zero.
    await proxy.stop()
    clock.advance(L1_TTL_MS)
    before = market.stats()
    started = time.monotonic()
    await read_all(market, store, symbols)
    assert time.monotonic() - started < 2.0  # one failed call, then L2 is skipped
    outage = market.stats() - before
    assert outage.rates()["l2"] == 0.0 and outage.l2_skipped == len(symbols)
    assert store.reads == len(symbols) and not market.l2_up
    assert market.hit_rates()["l2"] < healthy.rates()["l2"]
    assert len(warnings_of(caplog)) == 1

    # A candle closes during the outage: memory has it, Redis could not be told.
    newer = candle(symbols[0], T0 + 60_000, 200.0)
    store.latest[symbols[0]] = newer
    await market.put_candle("1m", newer)
    # Reads that went to the store could not refresh Redis either: all are "dirty" now.
    assert market.candles.dirty == {f"live:1m:{s}" for s in symbols}

    # Still down for 55 s more: retried every 5 s, but no second warning within the minute.
    for _ in range(11):
        clock.advance(RETRY_MS)
        await read_all(market, store, symbols)
    assert len(warnings_of(caplog)) == 1
    clock.advance(RETRY_MS)  # 60 s since the first warning
    await read_all(market, store, symbols)
    assert len(warnings_of(caplog)) == 2 and l2.warnings == 2
    assert "unreachable for 60 s" in warnings_of(caplog)[1]

    # Redis "restarts". The next probe finds it, it is logged once, and L2 serves again.
    await proxy.start()
    clock.advance(RETRY_MS)
    await market.put_candle("1m", newer)  # the feed's next write is the probe
    assert market.l2_up and l2.epoch == 1
    recovered = [r for r in caplog.records if "reachable again" in r.getMessage()]
    assert len(recovered) == 1 and recovered[0].levelno == logging.INFO
    assert market.candles.dirty == frozenset()
    await read_all(market, store, symbols)  # refills whatever went stale meanwhile
    clock.advance(L1_TTL_MS)
    before, reads = market.stats(), store.reads
    await read_all(market, store, symbols)
    after = market.stats() - before
    assert after.rates()["l2"] == 1.0 and store.reads == reads
    assert len(warnings_of(caplog)) == 2

    # Nothing stale in Redis: another instance sees the candle that closed during the outage.
    other = MarketCache(RedisTier.from_url(redis_url))
    try:

        async def never() -> Candle | None:
            raise AssertionError("must come from Redis")

        assert await other.latest_candle(symbols[0], "1m", never) == newer
    finally:
        await other.aclose()
        await market.aclose()


async def test_a_hung_redis_costs_a_short_timeout_then_is_skipped(
    redis_url: str, proxy: TcpProxy, tag: str
) -> None:
    clock = FakeClock()
    l2 = RedisTier(redis_client(proxy.route(redis_url), timeout_s=0.2), clock=clock)
    cache = TieredCache(f"hung{tag}", BytesCodec(), l2=l2, clock=clock)
    await cache.set("warm", b"x")  # the connection exists before the server hangs
    proxy.stall()

    async def load() -> bytes | None:
        return b"from the store"

    started = time.monotonic()
    for i in range(20):
        assert await cache.get(f"k{i}", load) == b"from the store"
    assert time.monotonic() - started < 1.5
    assert l2.errors == 1 and not cache.l2_up
    await l2.aclose()


async def test_too_many_writes_lost_in_an_outage_sweep_the_namespace_on_recovery(
    redis_url: str, proxy: TcpProxy, raw_redis: aioredis.Redis, tag: str
) -> None:
    clock = FakeClock()
    l2 = RedisTier(redis_client(proxy.route(redis_url)), clock=clock)
    cache = TieredCache(f"sweep{tag}", BytesCodec(), l2=l2, max_dirty=3, clock=clock)
    for i in range(5):
        await cache.set(f"k{i}", b"old")
    await proxy.stop()
    for i in range(5):
        clock.advance(RETRY_MS)
        await cache.set(f"k{i}", b"new")
    assert cache.stats().l2_write_failures == 5
    await proxy.start()
    clock.advance(RETRY_MS)
    await cache.set("k0", b"newest")  # probe: up again, the namespace is swept first
    assert [k async for k in raw_redis.scan_iter(match=f"slt:cache:sweep{tag}:*")] == [
        cache.redis_key("k0").encode()
    ]
    await l2.aclose()


async def test_a_redis_that_was_never_there_is_only_a_warning(
    caplog: pytest.LogCaptureFixture, tag: str
) -> None:
    caplog.set_level(logging.WARNING, logger="slt.storage.cache")
    market = MarketCache(RedisTier.from_url("redis://127.0.0.1:9/0"), clock=FakeClock())
    store = Store()
    store.latest["BTCUSDT"] = candle("BTCUSDT", T0, 1.0)
    await read_all(market, store, ["BTCUSDT"])
    await market.put_indicator_state("BTCUSDT", b"s")
    await market.aclose()
    assert len(warnings_of(caplog)) == 1 and market.stats().l2_skipped == 1


async def test_a_flapping_redis_still_warns_at_most_once_a_minute(
    redis_url: str, proxy: TcpProxy, tag: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="slt.storage.cache")
    clock = FakeClock()
    l2 = RedisTier(redis_client(proxy.route(redis_url)), clock=clock)
    cache = TieredCache(f"flap{tag}", BytesCodec(), l2=l2, clock=clock)
    for _ in range(3):  # down, up, down, up ... within one minute
        await proxy.stop()
        await cache.set("k", b"v")
        await proxy.start()
        clock.advance(RETRY_MS)
        await cache.set("k", b"v")
        assert cache.l2_up
    assert len(warnings_of(caplog)) == 1 and l2.epoch == 3
    assert sum("reachable again" in r.getMessage() for r in caplog.records) == 3
    clock.advance(60_000)
    await proxy.stop()
    await cache.set("k", b"v")
    assert len(warnings_of(caplog)) == 2
    await l2.aclose()


async def test_reads_during_an_outage_make_one_probe_at_a_time(
    redis_url: str, proxy: TcpProxy, tag: str
) -> None:
    clock = FakeClock()
    l2 = RedisTier(redis_client(proxy.route(redis_url)), clock=clock)
    cache = TieredCache(f"burst{tag}", BytesCodec(), l2=l2, clock=clock)
    await cache.set("warm", b"x")
    await proxy.stop()

    async def load() -> bytes | None:
        return b"from the store"

    results = await asyncio.gather(*(cache.get(f"k{i}", load) for i in range(50)))
    assert results == [b"from the store"] * 50
    # Each read was already on its way to Redis when the first one failed: each fails once
    # (no retries inside the client), and their write-backs are not even attempted.
    assert l2.errors == 50
    clock.advance(RETRY_MS)
    errors = l2.errors
    await asyncio.gather(*(cache.get(f"j{i}", load) for i in range(50)))
    assert l2.errors == errors + 1  # one PING probe for the whole burst
    await l2.aclose()
