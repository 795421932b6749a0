"""RunStore on SQLite and PostgreSQL: runs and trades come back exactly as saved."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.domain.enums import ExitReason, Side
from slt.storage import RunExistsError, RunStore

pytestmark = pytest.mark.integration


def trade(seq: int, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "side": Side.LONG if seq % 2 == 0 else Side.SHORT,
        "entry_time_ms": 1_749_551_700_000 + seq * 60_000,
        "exit_time_ms": 1_749_551_700_000 + (seq + 5) * 60_000,
        "entry_price": Decimal("109319.70"),
        "exit_price": Decimal("109400.1"),
        "quantity": Decimal("0.003"),
        "net_pnl": Decimal("-0.0000001"),
        "return_pct": 0.0123456789012345,
        "exit_reason": ExitReason.TAKE_PROFIT,
        "exits": [{"quantity": Decimal("0.003"), "reason": "take_profit"}],
        "confidence": 0.5,
    }
    base.update(overrides)
    return base


async def save(store: RunStore, run_id: str, created_ms: int, trades: list[dict[str, Any]]) -> None:
    await store.save(
        run_id=run_id,
        created_ms=created_ms,
        config={"risk": {"risk_per_trade": 0.01}, "symbols": ["BTCUSDT"], "strategy": "baseline"},
        symbols=["BTCUSDT", "LTCUSDT"],
        interval="1m",
        start_ms=1_749_551_700_000,
        end_ms=1_750_761_060_000,
        metrics={"sharpe": 1.25, "trades": len(trades), "final_balance": Decimal("10012.34")},
        trade_list_hash="ab" * 32,
        trades=trades,
    )


async def test_run_round_trip(engine: AsyncEngine) -> None:
    store = RunStore(engine)
    trades = [trade(i) for i in range(3)]
    await save(store, "run-1", 1_750_000_000_000, trades)
    record = await store.get("run-1")
    assert record is not None
    s = record.summary
    assert (s.run_id, s.created_ms, s.interval, s.trade_count) == (
        "run-1",
        1_750_000_000_000,
        "1m",
        3,
    )
    assert s.symbols == ("BTCUSDT", "LTCUSDT")
    assert (s.start_ms, s.end_ms, s.trade_list_hash) == (
        1_749_551_700_000,
        1_750_761_060_000,
        "ab" * 32,
    )
    assert s.config == {
        "risk": {"risk_per_trade": 0.01},
        "symbols": ["BTCUSDT"],
        "strategy": "baseline",
    }
    assert s.metrics == {"sharpe": 1.25, "trades": 3, "final_balance": "10012.34"}
    assert len(record.trades) == 3
    first = record.trades[0]
    assert first["entry_price"] == "109319.70"  # exact decimal text, trailing zero kept
    assert first["net_pnl"] == "-1E-7"
    assert first["side"] == 1 and record.trades[1]["side"] == -1
    assert first["exit_reason"] == "take_profit"
    assert first["return_pct"] == 0.0123456789012345
    assert first["exits"] == [{"quantity": "0.003", "reason": "take_profit"}]
    assert [t["entry_time_ms"] for t in record.trades] == [t["entry_time_ms"] for t in trades]


async def test_trade_columns_are_queryable(engine: AsyncEngine) -> None:
    store = RunStore(engine)
    await save(store, "run-q", 1, [trade(0), trade(1)])
    async with engine.connect() as conn:
        rows = (
            await conn.exec_driver_sql(
                "SELECT seq, side, entry_price, quantity, net_pnl, exit_reason "
                "FROM backtest_trades ORDER BY seq"
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (0, "LONG", "109319.70", "0.003", "-1E-7", "take_profit"),
        (1, "SHORT", "109319.70", "0.003", "-1E-7", "take_profit"),
    ]


async def test_list_is_newest_first_without_trades(engine: AsyncEngine) -> None:
    store = RunStore(engine)
    await save(store, "old", 1_000, [trade(0)])
    await save(store, "new", 2_000, [])
    runs = await store.list()
    assert [(r.run_id, r.trade_count) for r in runs] == [("new", 0), ("old", 1)]


async def test_saving_an_existing_run_id_is_refused_and_changes_nothing(
    engine: AsyncEngine,
) -> None:
    store = RunStore(engine)
    await save(store, "dup", 1, [trade(0)])
    with pytest.raises(RunExistsError, match="'dup' is already stored"):
        await save(store, "dup", 2, [trade(0), trade(1)])
    record = await store.get("dup")
    assert record is not None and record.summary.created_ms == 1 and len(record.trades) == 1


async def test_a_malformed_trade_stores_nothing(engine: AsyncEngine) -> None:
    store = RunStore(engine)
    broken = trade(1)
    del broken["net_pnl"]
    with pytest.raises(ValueError, match="trade 1 of run 'bad' lacks net_pnl"):
        await save(store, "bad", 1, [trade(0), broken])
    assert await store.get("bad") is None
    assert await store.list() == []


async def test_unknown_run_is_none(engine: AsyncEngine) -> None:
    assert await RunStore(engine).get("nope") is None
