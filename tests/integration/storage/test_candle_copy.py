"""Bulk candle writes on PostgreSQL go through binary COPY and agree with SQLite row for row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from slt.domain.candle import CandleSeries
from slt.storage import CandleStore, create_engine, migrate
from slt.storage import candles as candles_module

pytestmark = pytest.mark.integration

T0 = 1_749_551_700_000
MIN = 60_000


def series(n: int, start: int = T0, seed: int = 7) -> CandleSeries:
    rng = np.random.default_rng(seed)
    o = rng.random(n) * 10.0 ** rng.integers(-6, 6, n) + 1e-9
    c = o * (1 + rng.normal(0, 0.01, n))
    h, lo = np.maximum(o, c) * 1.01, np.minimum(o, c) * 0.99
    v = rng.random(n) * 1e6
    t = start + np.arange(n, dtype=np.int64) * MIN
    return CandleSeries("BTCUSDT", "1m", t, o, h, lo, c, v)


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
async def test_large_write_uses_copy_and_equals_sqlite(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies: list[int] = []
    real_copy = candles_module.copy_rows

    async def counting_copy(conn: AsyncConnection, s: CandleSeries) -> None:
        copies.append(len(s))
        await real_copy(conn, s)

    monkeypatch.setattr(candles_module, "copy_rows", counting_copy)
    sqlite = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'slt.db'}")
    await migrate(sqlite)
    try:
        pg_store, lite_store = CandleStore(engine), CandleStore(sqlite)
        big = series(120_000)
        assert await pg_store.write(big) == await lite_store.write(big) == 120_000
        chunk = candles_module.POSTGRES_CHUNK_ROWS
        assert copies == [chunk, chunk, 120_000 - 2 * chunk]
        # Overlapping and repeated writes: the same new-row counts on both databases.
        overlap = series(60_000, start=T0 + 100_000 * MIN, seed=8)
        assert await pg_store.write(overlap) == await lite_store.write(overlap) == 40_000
        assert await pg_store.write(big) == await lite_store.write(big) == 0
        a, b = await pg_store.load("BTCUSDT", "1m"), await lite_store.load("BTCUSDT", "1m")
        assert len(a) == len(b) == 160_000
        for name in ("open_time", "open", "high", "low", "close", "volume"):
            assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    finally:
        await sqlite.dispose()


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
async def test_copy_inside_a_callers_transaction_rolls_back_whole(engine: AsyncEngine) -> None:
    store = CandleStore(engine)
    with pytest.raises(RuntimeError, match="after two series"):
        async with engine.begin() as conn:
            assert await store.write_in(conn, series(1_000)) == 1_000
            other = series(500, start=T0 + 5_000 * MIN, seed=9)
            assert await store.write_in(conn, other) == 500  # the staging table is reused
            raise RuntimeError("after two series")
    assert await store.count("BTCUSDT", "1m") == 0
