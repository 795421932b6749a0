"""A restarted Brain's first marks: from Redis when it has them (the process's own L1 died with
it), from the candle store when Redis is down — never a crash, never a price from after the
venue's clock or older than an hour."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from slt.domain.candle import Candle, CandleSeries
from slt.runtime.brain_cache import FRESH_MS, first_marks, remember_candles
from slt.storage import CandleStore, create_engine, migrate
from slt.storage.cache_l2 import RedisTier
from slt.storage.cache_market import MarketCache

pytestmark = pytest.mark.integration
T0 = 1_700_000_040_000 - 1_700_000_040_000 % 60_000


def series(symbol: str, n: int, first_close: float) -> CandleSeries:
    close = first_close + np.arange(n, dtype=np.float64)
    return CandleSeries(
        symbol,
        "1m",
        T0 + 60_000 * np.arange(n, dtype=np.int64),
        close,
        close + 1,
        close - 1,
        close,
        np.ones(n),
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CandleStore]:
    """A store on a migrated SQLite file, its engine disposed after the test: a pooled
    aiosqlite connection left to the garbage collector stops its worker thread from a later
    test, and the thread then reports to this test's event loop, closed by then."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    try:
        await migrate(engine)
        yield CandleStore(engine)
    finally:
        await engine.dispose()


async def test_marks_come_from_redis_then_from_the_store_when_redis_is_down(
    redis_url: str, tag: str, raw_redis: object, store: CandleStore
) -> None:
    sym = f"M{tag}USDT"
    stored = series(sym, 30, 100.0)
    await store.write(stored)
    live = Candle(sym, T0 + 30 * 60_000, T0 + 31 * 60_000 - 1, 500.0, 501.0, 499.0, 500.5, 2.0)
    now = live.close_time + 5_000

    before = MarketCache(RedisTier.from_url(redis_url))
    await remember_candles(before, "1m", [stored.candle(29), live])
    await before.aclose()

    restarted = MarketCache(RedisTier.from_url(redis_url))  # a new process: empty L1
    assert await first_marks(restarted, store, [sym], "1m", now) == {sym: 500.5}
    counts = restarted.stats()
    assert counts.l2_hits == 1 and counts.l3_loads == 0
    await restarted.aclose()

    down = MarketCache(RedisTier.from_url("redis://127.0.0.1:9/0"))  # nothing listens there
    assert await first_marks(down, store, [sym], "1m", now) == {sym: float(stored.close[-1])}
    assert down.stats().l2_hits == 0 and down.stats().l3_loads == 1
    assert down.hit_rates()["overall"] == 0.0
    await down.aclose()


async def test_a_close_from_after_the_clock_or_older_than_an_hour_is_no_mark(
    store: CandleStore,
) -> None:
    stored = series("BTCUSDT", 30, 100.0)
    await store.write(stored)
    cache = MarketCache()
    early = int(stored.open_time[10])  # a replay restarted on an earlier minute
    marks = await first_marks(cache, store, ["BTCUSDT"], "1m", early)
    assert marks == {"BTCUSDT": float(stored.close[9])}
    late = int(stored.open_time[-1]) + 60_000 + FRESH_MS + 60_000
    assert await first_marks(MarketCache(), store, ["BTCUSDT"], "1m", late) == {}


async def test_a_later_candle_left_in_redis_by_a_longer_replay_is_dropped(
    redis_url: str, tag: str, raw_redis: object, store: CandleStore
) -> None:
    """Redis outlives runs: a replay restarted on an earlier minute must not keep the later
    candle an earlier run cached, or no candle of the new run would ever be "latest"."""
    sym = f"R{tag}USDT"
    stored = series(sym, 30, 100.0)
    await store.write(stored)
    earlier_run = MarketCache(RedisTier.from_url(redis_url))
    await remember_candles(earlier_run, "1m", [stored.candle(29)])
    await earlier_run.aclose()

    cache = MarketCache(RedisTier.from_url(redis_url))
    now = int(stored.open_time[10])  # this run replays from minute 10
    assert await first_marks(cache, store, [sym], "1m", now) == {sym: float(stored.close[9])}
    await remember_candles(cache, "1m", [stored.candle(10)])
    assert await cache.latest_candle(sym, "1m", _no_loader) == stored.candle(10)
    await cache.aclose()
    again = MarketCache(RedisTier.from_url(redis_url))  # and Redis holds this run's candle
    assert await again.latest_candle(sym, "1m", _no_loader) == stored.candle(10)
    await again.aclose()


async def _no_loader() -> Candle | None:
    raise AssertionError("the cache should have answered")


async def test_in_the_middle_of_a_candle_the_mark_is_the_last_closed_one(
    store: CandleStore,
) -> None:
    """The store also holds the candle still forming at the venue's clock (a replay's data
    runs ahead): the mark is the close of the one before it, not no mark at all."""
    stored = series("BTCUSDT", 30, 100.0)
    await store.write(stored)
    mid = int(stored.open_time[10]) + 30_000
    assert await first_marks(MarketCache(), store, ["BTCUSDT"], "1m", mid) == {
        "BTCUSDT": float(stored.close[9])
    }
