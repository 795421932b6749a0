"""The tiers with no Redis configured: L1 in front of the source, counted, silently.

What is pinned: a miss goes to the loader once and is then served from memory until its TTL;
`set` and `invalidate` act on memory; concurrent misses of one key share one loader call; a
source with nothing is not cached; a loader's own error reaches the caller; the counters
and the hit rates the heartbeat shows add up.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from slt.config import Settings
from slt.domain.candle import Candle
from slt.storage.cache import BytesCodec, MsgpackCodec, TieredCache
from slt.storage.cache_market import MarketCache, open_market_cache
from slt.storage.cache_stats import CacheCounts

from .conftest import T0, FakeClock


class Source:
    """L3 stand-in: a dict, counting how often it is asked."""

    def __init__(self, data: dict[str, bytes]) -> None:
        self.data = data
        self.calls: list[str] = []

    def loader(self, key: str, delay_s: float = 0.0):  # type: ignore[no-untyped-def]
        async def load() -> bytes | None:
            self.calls.append(key)
            if delay_s:
                await asyncio.sleep(delay_s)
            return self.data.get(key)

        return load


def candle(symbol: str, open_time: int, close: float = 100.0) -> Candle:
    return Candle(symbol, open_time, open_time + 59_999, close, close + 1, close - 1, close, 5.0)


async def test_a_miss_is_loaded_once_then_served_from_memory_until_its_ttl() -> None:
    clock = FakeClock()
    cache = TieredCache("t", BytesCodec(), l1_ttl_ms=1_000, clock=clock)
    source = Source({"k": b"v1"})
    assert await cache.get("k", source.loader("k")) == b"v1"
    assert await cache.get("k", source.loader("k")) == b"v1"
    assert source.calls == ["k"]
    clock.advance(999)
    source.data["k"] = b"v2"
    assert await cache.get("k", source.loader("k")) == b"v1"
    clock.advance(1)
    assert await cache.get("k", source.loader("k")) == b"v2"
    assert source.calls == ["k", "k"]
    assert cache.stats() == CacheCounts(gets=4, l1_hits=2, l2_skipped=0, l3_loads=2)
    assert cache.hit_rates() == {"l1": 0.5, "l2": 0.0, "overall": 0.5}
    assert not cache.l2_up


async def test_set_and_invalidate_act_on_memory_and_nothing_is_cached_for_an_empty_source() -> None:
    cache = TieredCache("t", BytesCodec(), clock=FakeClock())
    source = Source({})
    await cache.set("k", b"mine")
    assert await cache.get("k", source.loader("k")) == b"mine" and source.calls == []
    await cache.invalidate("k")
    assert await cache.get("k", source.loader("k")) is None
    assert await cache.get("k", source.loader("k")) is None
    assert source.calls == ["k", "k"]
    assert cache.stats().l3_empty == 2


async def test_concurrent_misses_of_one_key_share_one_load() -> None:
    cache = TieredCache("t", BytesCodec(), clock=FakeClock())
    source = Source({"k": b"v", "j": b"w"})
    results = await asyncio.gather(
        *(cache.get("k", source.loader("k", 0.01)) for _ in range(20)),
        cache.get("j", source.loader("j", 0.01)),
    )
    assert results == [b"v"] * 20 + [b"w"]
    assert sorted(source.calls) == ["j", "k"]
    counts = cache.stats()
    assert (counts.l3_loads, counts.l3_shared) == (2, 19)


async def test_a_loader_error_reaches_every_waiter_and_is_not_cached() -> None:
    cache = TieredCache("t", BytesCodec(), clock=FakeClock())
    calls = 0

    async def broken() -> bytes | None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise ConnectionResetError("exchange went away")

    results = await asyncio.gather(
        *(cache.get("k", broken) for _ in range(3)), return_exceptions=True
    )
    assert calls == 1 and all(isinstance(r, ConnectionResetError) for r in results)

    async def fine() -> bytes | None:
        return b"ok"

    assert await cache.get("k", fine) == b"ok"


async def test_rates_of_a_window_are_the_difference_of_two_snapshots() -> None:
    cache = TieredCache("t", MsgpackCodec(dict[str, float]), clock=FakeClock())

    async def load() -> dict[str, float] | None:
        return {"atr": 1.5}

    for _ in range(4):
        await cache.get("k", load)
    before = cache.stats()
    for key in ("a", "b", "c", "d"):
        await cache.get(key, load)
    window = cache.stats() - before
    assert window == CacheCounts(gets=4, l3_loads=4)
    assert window.rates()["overall"] == 0.0
    assert cache.stats().rates()["overall"] == 3 / 8
    assert window + before == cache.stats()
    assert CacheCounts().rates() == {"l1": 0.0, "l2": 0.0, "overall": 0.0}


async def test_no_redis_configured_means_memory_and_source_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="slt.storage.cache")
    market = open_market_cache(Settings(redis_url=None), "local", clock=FakeClock())
    assert market.l2 is None and not market.l2_up

    async def from_store() -> Candle | None:
        return candle("BTCUSDT", T0)

    assert await market.latest_candle("btcusdt", "1m", from_store) == candle("BTCUSDT", T0)
    await market.put_indicator_state("BTCUSDT", b"\x01\x02")

    async def nothing() -> bytes | None:
        raise AssertionError("state was in memory")

    assert await market.indicator_state("BTCUSDT", nothing) == b"\x01\x02"
    await market.aclose()
    assert caplog.records == []
    assert market.stats() == CacheCounts(gets=2, l1_hits=1, l3_loads=1)


async def test_the_latest_candle_never_moves_backwards_in_memory() -> None:
    market = MarketCache(clock=FakeClock())

    async def unused() -> Candle | None:
        raise AssertionError("should be in memory")

    await market.put_candle("1m", candle("ETHUSDT", T0 + 60_000, 2.0))
    await market.put_candle("1m", candle("ETHUSDT", T0, 1.0))  # late message
    latest = await market.latest_candle("ETHUSDT", "1m", unused)
    assert latest is not None and latest.open_time == T0 + 60_000
    await market.forget("ETHUSDT", ("1m",))

    async def none() -> Candle | None:
        return None

    assert await market.latest_candle("ETHUSDT", "1m", none) is None


def test_a_namespace_must_be_one_key_segment() -> None:
    with pytest.raises(ValueError, match="namespace"):
        TieredCache("a:b", BytesCodec())


async def test_a_set_during_a_slow_load_is_not_overwritten_by_the_older_find() -> None:
    cache = TieredCache("t", BytesCodec(), clock=FakeClock())
    loading = asyncio.Event()

    async def slow_store() -> bytes | None:
        loading.set()
        await asyncio.sleep(0.02)
        return b"old"

    reader = asyncio.create_task(cache.get("k", slow_store))
    await loading.wait()
    await cache.set("k", b"new")  # a fresher value arrives while the store is read
    assert await reader == b"old"  # the read answers what it found ...

    async def unused() -> bytes | None:
        raise AssertionError("should be in memory")

    assert await cache.get("k", unused) == b"new"  # ... but memory keeps the newer one
