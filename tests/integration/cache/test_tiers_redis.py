"""The tiers over the real test Redis: values round-trip, L2 keys carry the TTL, a lower
tier's find is written back to the tiers above in order, and another instance or another
process reads what this one wrote."""

from __future__ import annotations

import asyncio
import sys

import pytest
import redis.asyncio as aioredis

from slt.domain.candle import Candle
from slt.storage.cache import BytesCodec, MsgpackCodec, TieredCache
from slt.storage.cache_l2 import RedisTier
from slt.storage.cache_market import MarketCache
from slt.storage.cache_stats import CacheCounts

from .conftest import T0, FakeClock

pytestmark = pytest.mark.integration


def candle(symbol: str, open_time: int, close: float = 100.0) -> Candle:
    return Candle(symbol, open_time, open_time + 59_999, close, close + 2, close - 2, close, 7.5)


async def never() -> Candle | None:
    raise AssertionError("the source must not be asked")


async def test_values_round_trip_and_l2_keys_expire_in_an_hour(
    redis_url: str, raw_redis: aioredis.Redis, tag: str
) -> None:
    writer = MarketCache(RedisTier.from_url(redis_url), clock=FakeClock())
    reader = MarketCache(RedisTier.from_url(redis_url), clock=FakeClock())
    symbol = f"T{tag}USDT"
    c = candle(symbol, T0, 123.456789)
    await writer.put_candle("1m", c)
    await writer.put_indicator_state(symbol, b"\x00state\xff")
    try:
        assert await reader.latest_candle(symbol.lower(), "1m", never) == c

        async def no_state() -> bytes | None:
            raise AssertionError("the source must not be asked")

        assert await reader.indicator_state(symbol, no_state) == b"\x00state\xff"
        assert reader.stats() == CacheCounts(gets=2, l2_hits=2)
        assert reader.hit_rates() == {"l1": 0.0, "l2": 1.0, "overall": 1.0}
        for key in (f"slt:cache:candle:live:1m:{symbol}", f"slt:cache:indicators:live:{symbol}"):
            assert 3590 <= await raw_redis.ttl(key) <= 3600
        short = TieredCache(f"ns{tag}", BytesCodec(), l2=writer.l2, l2_ttl_s=120)
        await short.set("k", b"v")
        assert 110 <= await raw_redis.ttl(f"slt:cache:ns{tag}:k") <= 120
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_bots_on_different_venues_sharing_one_redis_never_read_each_others_market(
    redis_url: str, tag: str
) -> None:
    """A replay on the local exchange and a live bot may share one Redis: the replay's candle
    must never become the live bot's mark, nor a testnet price a live one."""
    replay = MarketCache(RedisTier.from_url(redis_url), venue="local", clock=FakeClock())
    live = MarketCache(RedisTier.from_url(redis_url), venue="live", clock=FakeClock())
    symbol = f"V{tag}USDT"
    replayed = candle(symbol, T0 + 3_600_000, 1.0)
    await replay.put_candle("1m", replayed)
    await replay.put_indicator_state(symbol, b"replay")

    async def from_store() -> Candle | None:
        return candle(symbol, T0, 50_000.0)

    async def no_state() -> bytes | None:
        return None

    try:
        assert await live.latest_candle(symbol, "1m", from_store) == candle(symbol, T0, 50_000.0)
        assert await live.indicator_state(symbol, no_state) is None
        assert live.stats().l2_hits == 0
        again = MarketCache(RedisTier.from_url(redis_url), venue="local", clock=FakeClock())
        assert await again.latest_candle(symbol, "1m", never) == replayed  # its own venue's
        await again.aclose()
        with pytest.raises(ValueError, match="venue"):
            MarketCache(venue="a:b")
    finally:
        await replay.aclose()
        await live.aclose()


async def test_a_find_is_written_back_to_the_tiers_above_in_order(
    redis_url: str, raw_redis: aioredis.Redis, tag: str
) -> None:
    clock = FakeClock()
    l2 = RedisTier.from_url(redis_url)
    cache = TieredCache(f"ns{tag}", MsgpackCodec(list[int]), l2=l2, l1_ttl_ms=1_000, clock=clock)
    rkey = cache.redis_key("k")
    loads = 0

    async def load() -> list[int] | None:
        nonlocal loads
        loads += 1
        return [1, 2, 3]

    try:
        assert await cache.get("k", load) == [1, 2, 3]  # L1 miss, L2 miss, L3 answers
        assert await raw_redis.get(rkey) == cache.codec.encode([1, 2, 3])  # written to L2
        assert cache.l1.peek("k") == [1, 2, 3]  # and to L1
        assert await cache.get("k", load) == [1, 2, 3]  # L1 answers
        clock.advance(1_000)
        assert await cache.get("k", load) == [1, 2, 3]  # L1 expired: L2 answers ...
        assert cache.l1.peek("k") == [1, 2, 3]  # ... and refills L1
        assert loads == 1
        assert cache.stats() == CacheCounts(gets=3, l1_hits=1, l2_hits=1, l2_misses=1, l3_loads=1)

        await cache.set("k", [9])  # write-through
        assert await raw_redis.get(rkey) == cache.codec.encode([9])
        await cache.invalidate("k")
        assert await raw_redis.exists(rkey) == 0 and cache.l1.peek("k") is None

        await raw_redis.set(rkey, b"\xc1 not msgpack")  # a foreign or damaged value
        assert await cache.get("k", load) == [1, 2, 3]
        assert await raw_redis.get(rkey) == cache.codec.encode([1, 2, 3])  # replaced
    finally:
        await l2.aclose()


READER = """
import asyncio, sys
from slt.storage.cache_l2 import RedisTier
from slt.storage.cache_market import MarketCache

async def main():
    market = MarketCache(RedisTier.from_url(sys.argv[1]))
    async def never():
        raise SystemExit("not in Redis")
    c = await market.latest_candle(sys.argv[2], "5m", never)
    print(c.close, c.open_time)
    await market.aclose()

asyncio.run(main())
"""


async def test_another_process_reads_what_this_one_wrote(
    redis_url: str, raw_redis: aioredis.Redis, tag: str
) -> None:
    market = MarketCache(RedisTier.from_url(redis_url))
    symbol = f"P{tag}USDT"
    await market.put_candle("5m", candle(symbol, T0, 42.25))
    await market.aclose()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        READER,
        redis_url,
        symbol,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert out.decode().split() == ["42.25", str(T0)]
