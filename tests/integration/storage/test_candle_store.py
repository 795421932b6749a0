"""CandleStore on SQLite and PostgreSQL: exact round trips, idempotent writes, atomicity."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.domain.candle import CandleSeries
from slt.storage import CandleStore, SeriesInfo
from slt.storage import candles as candles_module

pytestmark = pytest.mark.integration

T0 = 1_749_551_700_000
MIN = 60_000
COLUMNS = ("open_time", "open", "high", "low", "close", "volume")


def make_series(
    n: int, *, symbol: str = "BTCUSDT", interval: str = "1m", start: int = T0, seed: int = 1
) -> CandleSeries:
    """Random candles whose floats span many magnitudes and need all 17 digits."""
    rng = np.random.default_rng(seed)
    step = {"1m": MIN, "5m": 5 * MIN}[interval]
    scale = 10.0 ** rng.integers(-8, 6, n)
    o = rng.random(n) * scale + 1e-9
    c = rng.random(n) * scale + 1e-9
    h = np.maximum(o, c) * (1 + rng.random(n))
    lo = np.minimum(o, c) * rng.random(n)
    v = rng.random(n) * 10.0 ** rng.integers(-3, 9, n)
    t = start + np.arange(n, dtype=np.int64) * step
    return CandleSeries(symbol, interval, t, o, h, lo, c, v)


def assert_identical(a: CandleSeries, b: CandleSeries) -> None:
    assert (a.symbol, a.interval, len(a)) == (b.symbol, b.interval, len(b))
    for name in COLUMNS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert x.tobytes() == y.tobytes(), name


async def test_write_then_load_round_trips_bit_identical(engine: AsyncEngine) -> None:
    store = CandleStore(engine)
    series = make_series(5_000)
    edge = series.volume.copy()
    edge[:4] = [0.1, 1 / 3, 5e-324, 1.7976931348623157e308]
    series = CandleSeries(
        series.symbol,
        series.interval,
        series.open_time,
        series.open,
        series.high,
        series.low,
        series.close,
        edge,
    )
    assert await store.write(series) == 5_000
    assert_identical(await store.load("BTCUSDT", "1m"), series)


async def test_re_import_is_idempotent_and_never_rewrites_history(engine: AsyncEngine) -> None:
    store = CandleStore(engine)
    series = make_series(1_000)
    assert await store.write(series) == 1_000
    assert await store.write(series) == 0
    changed = make_series(1_000, seed=99)  # same open times, other values
    assert await store.write(changed) == 0
    assert_identical(await store.load("BTCUSDT", "1m"), series)
    overlapping = make_series(1_500, start=T0 + 600 * MIN, seed=3)
    assert await store.write(overlapping) == 1_100
    assert await store.count("BTCUSDT", "1m") == 2_100


async def test_load_range_is_half_open_and_sorted(engine: AsyncEngine) -> None:
    store = CandleStore(engine)
    series = make_series(100)
    order = np.random.default_rng(5).permutation(100)
    shuffled = CandleSeries(
        series.symbol, series.interval, *(getattr(series, c)[order] for c in COLUMNS)
    )
    await store.write(shuffled)
    part = await store.load("BTCUSDT", "1m", start_ms=T0 + 10 * MIN, end_ms=T0 + 20 * MIN)
    assert_identical(part, series.slice(10, 20))
    assert len(await store.load("BTCUSDT", "1m", start_ms=T0 + 95 * MIN)) == 5
    assert len(await store.load("BTCUSDT", "1m", end_ms=T0 + 5 * MIN)) == 5


async def test_unknown_series_loads_empty(engine: AsyncEngine) -> None:
    empty = await CandleStore(engine).load("NOPEUSDT", "1m")
    assert len(empty) == 0 and empty.open_time.dtype == np.int64


async def test_list_series_and_count(engine: AsyncEngine) -> None:
    store = CandleStore(engine)
    await store.write(make_series(10, symbol="LTCUSDT"))
    await store.write(make_series(20, symbol="BTCUSDT", interval="5m"))
    await store.write(make_series(30, symbol="BTCUSDT"))
    assert await store.list_series() == [
        SeriesInfo("BTCUSDT", "1m", T0, T0 + 29 * MIN, 30),
        SeriesInfo("BTCUSDT", "5m", T0, T0 + 19 * 5 * MIN, 20),
        SeriesInfo("LTCUSDT", "1m", T0, T0 + 9 * MIN, 10),
    ]
    assert await store.count("BTCUSDT", "5m") == 20
    assert await store.count("ETHUSDT", "1m") == 0


async def test_a_write_failing_part_way_leaves_nothing(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(candles_module, "SQLITE_CHUNK_ROWS", 100)
    monkeypatch.setattr(candles_module, "POSTGRES_CHUNK_ROWS", 100)
    store = CandleStore(engine)
    seen: list[int] = []

    def fail_after_two_chunks(done: int) -> None:
        seen.append(done)
        if len(seen) == 2:
            raise RuntimeError("simulated crash in the middle of a write")

    with pytest.raises(RuntimeError, match="simulated crash"):
        await store.write(make_series(1_000), progress=fail_after_two_chunks)
    assert seen == [100, 200]
    assert await store.count("BTCUSDT", "1m") == 0
    assert await store.write(make_series(1_000)) == 1_000


async def test_empty_series_writes_nothing(engine: AsyncEngine) -> None:
    assert await CandleStore(engine).write(make_series(0)) == 0


async def test_unknown_interval_is_refused(engine: AsyncEngine) -> None:
    series = make_series(3)
    bad = CandleSeries("BTCUSDT", "7m", *(getattr(series, c) for c in COLUMNS))
    with pytest.raises(ValueError, match="unknown interval"):
        await CandleStore(engine).write(bad)


async def test_100k_rows_write_in_a_couple_of_seconds(engine: AsyncEngine) -> None:
    store = CandleStore(engine)
    series = make_series(100_000)
    started = time.perf_counter()
    assert await store.write(series) == 100_000
    write_s = time.perf_counter() - started
    started = time.perf_counter()
    loaded = await store.load("BTCUSDT", "1m")
    load_s = time.perf_counter() - started
    assert_identical(loaded, series)
    print(
        f"\n{engine.dialect.name}: write {100_000 / write_s:,.0f} rows/s ({write_s:.2f} s), "
        f"load {100_000 / load_s:,.0f} rows/s ({load_s:.2f} s)"
    )
    assert write_s < 5.0
