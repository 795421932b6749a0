"""The Feed's candle writer commits a flush in transactions of bounded size (a short hold of
SQLite's write lock each, one statement), and a flush that fails part-way keeps exactly the
unwritten candles."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slt.domain import Candle, CandleSeries
from slt.feed.backfill import ROWS_PER_TRANSACTION, CandleWriter, _series_of, _transactions
from slt.storage import CandleStore, create_engine, migrate

M = 60_000
T0 = 1_700_000_040_000
CANDLES = 3
PER_TRANSACTION = ROWS_PER_TRANSACTION // CANDLES
SYMBOLS = [f"S{k:04d}USDT" for k in range(2 * PER_TRANSACTION + 5)]


def bar(symbol: str, k: int) -> Candle:
    t = T0 + k * M
    return Candle(symbol, t, t + M - 1, 100.0, 101.0, 99.0, 100.5, 1.0)


class FlakyStore(CandleStore):
    """Fails once, on the transaction holding the first symbol of the second group."""

    failed = False
    statements = 0

    async def write_all_in(self, conn: Any, many: Sequence[CandleSeries]) -> int:
        if any(s.symbol == SYMBOLS[PER_TRANSACTION] for s in many) and not self.failed:
            FlakyStore.failed = True
            raise OSError("disk full")
        FlakyStore.statements += 1
        return await super().write_all_in(conn, many)


async def test_a_failed_group_stays_buffered_and_the_groups_before_it_are_kept(
    tmp_path: Path,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'slt.db'}")
    await migrate(engine)
    try:
        store = FlakyStore(engine)
        writer = CandleWriter(store, "1m")
        for k in range(CANDLES):
            for s in SYMBOLS:
                writer.add(bar(s, k))
        assert await writer.flush() == 0 and writer.failures == 1
        assert writer.written == CANDLES * PER_TRANSACTION
        assert len(writer) == CANDLES * (len(SYMBOLS) - PER_TRANSACTION)  # the rest waits
        first = await store.load(SYMBOLS[0], "1m")
        assert len(first) == CANDLES  # the first group was committed before the failure
        assert await writer.flush() == CANDLES * (len(SYMBOLS) - PER_TRANSACTION)
        assert len(writer) == 0
        assert FlakyStore.statements == 3  # one statement per transaction
        for s in (SYMBOLS[0], SYMBOLS[PER_TRANSACTION], SYMBOLS[-1]):
            assert len(await store.load(s, "1m")) == CANDLES
    finally:
        await engine.dispose()


def series(symbol: str, n: int) -> CandleSeries:
    (out,) = _series_of([bar(symbol, k) for k in range(n)], "1m")
    return out


def test_transactions_keep_series_whole_and_bounded() -> None:
    groups = [series(f"S{k}", n) for k, n in enumerate([1] * 300 + [5000, 1, 1999, 2])]
    parts = _transactions(groups)
    assert [s for part in parts for s in part] == groups  # all, in order, each once
    assert len(parts[0]) == 300, "a minute of 300 symbols is one transaction"
    for part in parts:
        assert len(part) == 1 or sum(len(s) for s in part) <= ROWS_PER_TRANSACTION
