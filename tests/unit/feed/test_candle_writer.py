"""The Feed's candle writer commits a flush in groups of symbols (a short hold of SQLite's
write lock each), and a flush that fails part-way keeps exactly the unwritten candles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slt.domain import Candle, CandleSeries
from slt.feed.backfill import SYMBOLS_PER_TRANSACTION, CandleWriter
from slt.storage import CandleStore, create_engine, migrate

M = 60_000
T0 = 1_700_000_040_000
SYMBOLS = [f"S{k:03d}USDT" for k in range(2 * SYMBOLS_PER_TRANSACTION + 5)]


def bar(symbol: str, k: int) -> Candle:
    t = T0 + k * M
    return Candle(symbol, t, t + M - 1, 100.0, 101.0, 99.0, 100.5, 1.0)


class FlakyStore(CandleStore):
    """Fails once, on the first symbol of the second group."""

    failed = False

    async def write_in(self, conn: Any, series: CandleSeries, **kw: Any) -> int:
        if series.symbol == SYMBOLS[SYMBOLS_PER_TRANSACTION] and not self.failed:
            FlakyStore.failed = True
            raise OSError("disk full")
        return await super().write_in(conn, series, **kw)


async def test_a_failed_group_stays_buffered_and_the_groups_before_it_are_kept(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'slt.db'}")
    await migrate(engine)
    try:
        store = FlakyStore(engine)
        writer = CandleWriter(store, "1m")
        for k in range(3):
            for s in SYMBOLS:
                writer.add(bar(s, k))
        assert await writer.flush() == 0 and writer.failures == 1
        assert writer.written == 3 * SYMBOLS_PER_TRANSACTION
        assert len(writer) == 3 * (len(SYMBOLS) - SYMBOLS_PER_TRANSACTION)  # the rest waits
        first = await store.load(SYMBOLS[0], "1m")
        assert len(first) == 3  # the first group was committed before the failure
        assert await writer.flush() == 3 * (len(SYMBOLS) - SYMBOLS_PER_TRANSACTION)
        assert len(writer) == 0
        for s in SYMBOLS:
            assert len(await store.load(s, "1m")) == 3
    finally:
        await engine.dispose()
