"""TradingStore on SQLite and PostgreSQL: exact round trips, idempotent writes, forward-only
order status, entry times that survive a restart, and the reads `slt status` needs."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.domain import ExitReason, Fill, OrderPurpose, OrderRequest, OrderType, Side
from slt.storage import (
    AccountSnapshot,
    ClosePosition,
    EndRun,
    ExperienceOp,
    FillOp,
    OrderIntent,
    OrderUpdate,
    OutcomeOp,
    PositionOp,
    SignalOp,
    StartRun,
    TradeOp,
    TradingStore,
    WriteOp,
)
from slt.storage.trading_ops import ORDER_STATUSES

pytestmark = pytest.mark.integration

T0 = 1_764_806_400_000  # 2025-12-04 00:00 UTC
MIN = 60_000

# -- strategies: few symbols, ids and times, so that keys collide often ----------------------
symbols = st.sampled_from(["BTCUSDT", "ETHUSDT"])
times = st.integers(0, 5).map(lambda k: T0 + k * MIN)
client_ids = st.sampled_from(["slt-1-EN", "slt-2-SL", "slt-3-EX"])
amounts = st.decimals(min_value=0, max_value=10**6, places=8, allow_nan=False)
fractions = st.floats(-1, 1, allow_nan=False)
sides = st.sampled_from(["LONG", "SHORT"])
RUN = "run"


def op_strategy() -> st.SearchStrategy[WriteOp]:
    return st.one_of(
        st.builds(StartRun, st.just(RUN), st.sampled_from(["sim", "binance"]), times),
        st.builds(EndRun, st.just(RUN), times),
        st.builds(
            SignalOp,
            st.just(RUN),
            symbols,
            times,
            st.sampled_from([-1, 0, 1]),
            fractions,
            st.floats(0, 1),
            st.just("m1"),
        ),
        st.builds(
            OrderIntent,
            st.just(RUN),
            client_ids,
            symbols,
            st.sampled_from(["BUY", "SELL"]),
            st.just("MARKET"),
            st.just("EN"),
            st.none() | amounts,
            st.none() | amounts,
            st.booleans(),
            st.booleans(),
            st.none() | st.integers(1, 20),
            times,
        ),
        st.builds(
            OrderUpdate,
            st.just(RUN),
            client_ids,
            st.sampled_from(list(ORDER_STATUSES)),
            times,
            st.integers(-5000, 0),
            st.sampled_from(["", "refused"]),
        ),
        st.builds(
            FillOp,
            st.just(RUN),
            st.sampled_from(["f1", "f2", "f3"]),
            client_ids,
            symbols,
            st.sampled_from(["BUY", "SELL"]),
            amounts,
            amounts,
            amounts,
            times,
        ),
        st.builds(
            PositionOp,
            st.just(RUN),
            symbols,
            sides,
            amounts,
            amounts,
            times,
            st.integers(1, 20),
            amounts,
            st.none() | amounts,
            st.none() | client_ids,
            st.none() | amounts,
            times,
        ),
        st.builds(ClosePosition, st.just(RUN), symbols, times),
        st.builds(
            TradeOp,
            st.just(RUN),
            symbols,
            sides,
            times,
            times,
            amounts,
            amounts,
            amounts,
            st.integers(1, 20),
            amounts,
            amounts,
            amounts,
            amounts,
            fractions,
            st.sampled_from([r.value for r in ExitReason]),
        ),
        st.builds(
            AccountSnapshot, st.just(RUN), times, amounts, amounts, amounts, st.integers(0, 3)
        ),
        st.builds(
            ExperienceOp,
            st.just(RUN),
            symbols,
            times,
            st.just("m1"),
            st.lists(st.none() | fractions, max_size=12).map(tuple),
            fractions,
        ),
        st.builds(
            OutcomeOp,
            st.just(RUN),
            symbols,
            times,
            fractions,
            st.sampled_from(["stop_loss", "take_profit"]),
            times,
        ),
    )


_NEEDS: dict[type[Any], Callable[[Any], tuple[str, object]]] = {
    EndRun: lambda o: ("run", None),
    ClosePosition: lambda o: ("position", o.symbol),
    OrderUpdate: lambda o: ("order", o.client_id),
    OutcomeOp: lambda o: ("experience", (o.symbol, o.entry_time_ms)),
}
"""The row each update op needs to exist before it."""


def write_ahead(ops: list[WriteOp]) -> list[WriteOp]:
    """Drop updates of rows not yet written: the write-ahead order makes them impossible (a
    run starts before it ends, an order is recorded before any status change, an experience
    before its outcome, a position is opened before it is closed)."""
    written: set[tuple[str, object]] = set()
    kept: list[WriteOp] = []
    for op in ops:
        if isinstance(op, StartRun):
            written.add(("run", None))
        elif isinstance(op, PositionOp):
            written.add(("position", op.symbol))
        elif isinstance(op, OrderIntent):
            written.add(("order", op.client_id))
        elif isinstance(op, ExperienceOp):
            written.add(("experience", (op.symbol, op.entry_time_ms)))
        needs = _NEEDS.get(type(op))
        if needs is None or needs(op) in written:
            kept.append(op)
    return kept


def as_run(ops: list[WriteOp], run_id: str) -> list[WriteOp]:
    return [msgspec.structs.replace(op, run_id=run_id) for op in ops]


def fresh_run() -> str:
    return f"r-{uuid.uuid4().hex[:12]}"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op_strategy(), max_size=20).map(write_ahead))
async def test_any_history_applied_twice_equals_applied_once(
    engine: AsyncEngine, ops: list[WriteOp]
) -> None:
    store = TradingStore(engine)
    once, twice = fresh_run(), fresh_run()
    for op in as_run(ops, once):
        await store.apply(op)
    await store.apply_many(as_run(ops, twice))
    for op in as_run(ops, twice):
        await store.apply(op)
    assert await store.export_run(twice) == await store.export_run(once)


async def test_order_status_only_moves_forward(engine: AsyncEngine) -> None:
    store = TradingStore(engine)
    order = OrderRequest(
        "slt-2a-EN",
        "BTCUSDT",
        Side.SHORT,
        OrderType.MARKET,
        OrderPurpose.ENTRY,
        quantity=Decimal("0.0030"),
        leverage=7,
        created_ms=T0,
    )
    await store.record_intent(RUN, order)
    await store.record_intent(RUN, msgspec.structs.replace(order, quantity=Decimal(9)))
    row = await store.order(RUN, order.client_id)
    assert row is not None
    assert (row.status, row.intent.quantity, row.intent.side, row.intent.leverage) == (
        "intent",
        Decimal("0.0030"),
        "SELL",
        7,
    )
    steps = [("sent", 1), ("filled", 3), ("sent", 4), ("accepted", 5), ("canceled", 6)]
    for status, k in steps:
        await store.update_order(RUN, order.client_id, status, T0 + k, code=-k, reason=status)
    row = await store.order(RUN, order.client_id)
    assert row is not None
    assert (row.status, row.code, row.reason, row.updated_ms) == ("filled", -3, "filled", T0 + 3)
    await store.update_order(RUN, "slt-unknown-EN", "sent", T0)  # no intent: nothing happens
    assert await store.order(RUN, "slt-unknown-EN") is None
    with pytest.raises(ValueError, match="unknown order status"):
        await store.update_order(RUN, order.client_id, "lost", T0)


async def test_recent_orders_by_status(engine: AsyncEngine) -> None:
    store = TradingStore(engine)
    for k in range(4):
        order = OrderRequest(
            f"slt-{k}-EN",
            "ETHUSDT",
            Side.LONG,
            OrderType.MARKET,
            OrderPurpose.ENTRY,
            quantity=Decimal(1),
            created_ms=T0 + k,
        )
        await store.record_intent(RUN, order)
    await store.update_order(RUN, "slt-1-EN", "sent", T0 + 10)
    await store.update_order(RUN, "slt-2-EN", "filled", T0 + 11)
    waiting = await store.orders(RUN, ("intent", "sent"))
    assert [o.intent.client_id for o in waiting] == ["slt-1-EN", "slt-3-EN", "slt-0-EN"]
    assert [o.intent.client_id for o in await store.orders(RUN, limit=2)] == [
        "slt-2-EN",
        "slt-1-EN",
    ]


async def test_fills_are_keyed_and_exact(engine: AsyncEngine) -> None:
    store = TradingStore(engine)
    fill = Fill(
        "slt-1-EN",
        "BTCUSDT",
        Side.LONG,
        Decimal("91234.50"),
        Decimal("0.002"),
        Decimal("0.0729876"),
        T0 + 5,
    )
    await store.record_fill(RUN, fill, trade_id=123456789)
    await store.record_fill(RUN, fill, trade_id=123456789)
    await store.record_fill(RUN, fill)  # no trade id: a key built from the fill itself
    await store.record_fill(RUN, fill)
    got = await store.fills(RUN, "slt-1-EN")
    assert [f.fill_key for f in got] == ["BTCUSDT:t123456789", f"slt-1-EN:{T0 + 5}:91234.50:0.002"]
    assert (got[0].price, got[0].quantity, got[0].fee, got[0].trade_id) == (
        Decimal("91234.50"),
        Decimal("0.002"),
        Decimal("0.0729876"),
        123456789,
    )
    assert str(got[0].price) == "91234.50"


def position(symbol: str, entry_ms: int, updated_ms: int, qty: str = "1.5") -> PositionOp:
    return PositionOp(
        RUN,
        symbol,
        "LONG",
        Decimal(qty),
        Decimal("2.3456"),
        entry_ms,
        5,
        Decimal("0.70368"),
        Decimal("2.2"),
        "slt-9-SL",
        None,
        updated_ms,
    )


async def test_positions_keep_entry_time_and_newest_state(engine: AsyncEngine) -> None:
    store = TradingStore(engine)
    entry = T0 + 7 * MIN + 123
    await store.apply(position("XRPUSDT", entry, entry))
    await store.apply(position("XRPUSDT", entry, entry + MIN, qty="0.75"))  # partial exit
    await store.apply(position("XRPUSDT", entry, entry, qty="1.5"))  # a stale replay: ignored
    await store.apply(position("SOLUSDT", T0, T0))
    await store.close_position(RUN, "SOLUSDT", T0 + MIN)
    await store.apply(position("SOLUSDT", T0, T0))  # older than the close: stays closed
    # A new process reads what it holds from the database alone.
    again = TradingStore(engine)
    held = await again.open_positions(RUN)
    assert [(p.symbol, p.entry_time_ms, p.quantity, p.stop_client_id) for p in held] == [
        ("XRPUSDT", entry, Decimal("0.75"), "slt-9-SL")
    ]
    assert held[0].margin == Decimal("0.70368") and held[0].take_profit_price is None
    await store.apply(position("SOLUSDT", T0 + 2 * MIN, T0 + 2 * MIN))  # reopened later
    assert [p.symbol for p in await again.open_positions(RUN)] == ["SOLUSDT", "XRPUSDT"]


def trade(exit_ms: int, pnl: str, entry_ms: int = T0) -> TradeOp:
    return TradeOp(
        RUN,
        "BTCUSDT",
        "SHORT",
        entry_ms,
        exit_ms,
        Decimal("100.1"),
        Decimal("99.9"),
        Decimal("3"),
        4,
        Decimal("0.6"),
        Decimal("0.1"),
        Decimal("0.05"),
        Decimal(pnl),
        0.0015,
        "take_profit",
        "m1",
    )


async def test_day_summary_sums_exactly(engine: AsyncEngine) -> None:
    store = TradingStore(engine)
    day = 86_400_000
    await store.apply_many(
        [
            trade(T0 - 1, "5"),  # yesterday
            trade(T0 + MIN, "0.1"),
            trade(T0 + 2 * MIN, "0.2"),
            trade(T0 + 3 * MIN, "-0.15", entry_ms=T0 + MIN),
            trade(T0 + day, "7"),  # tomorrow
        ]
    )
    summary = await store.day_summary(T0 + 12 * 3_600_000, RUN)
    assert summary.day_start_ms == T0
    assert [t.exit_time_ms for t in summary.trades] == [T0 + MIN, T0 + 2 * MIN, T0 + 3 * MIN]
    assert summary.net_pnl == Decimal("0.15") and summary.fees == Decimal("0.3")
    assert summary.wins == 2
    assert (await store.day_summary(T0, "other")).trades == ()


async def test_runs_accounts_signals_and_experience(engine: AsyncEngine) -> None:
    store = TradingStore(engine)
    await store.start_run("a", "sim", T0, {"symbols": ["BTCUSDT"], "risk": 0.01})
    await store.start_run("b", "binance", T0 + 1)
    await store.end_run("a", T0 + 5)
    latest = await store.latest_run()
    assert latest is not None and latest.run_id == "b" and latest.ended_ms is None
    run_a = await store.run("a")
    assert run_a is not None
    assert (run_a.ended_ms, run_a.config) == (T0 + 5, {"risk": 0.01, "symbols": ["BTCUSDT"]})
    assert await store.last_account("a") is None
    for k, bal in enumerate(["1000", "1000.125", "999.5"]):
        await store.record_account("a", T0 + k, Decimal(bal), Decimal(bal), Decimal("900"), k)
    last = await store.last_account("a")
    assert last is not None and (last.time_ms, last.balance, last.open_positions) == (
        T0 + 2,
        Decimal("999.5"),
        2,
    )
    assert len(await store.account_history("a", T0 + 1)) == 2
    await store.apply(SignalOp("a", "BTCUSDT", T0, 1, 0.0042, 0.7, "m1"))
    assert (await store.signals("a"))[0].expected_return == 0.0042
    feats = [0.1, float("nan"), 1e-300, -2.5]
    await store.record_experience("a", "BTCUSDT", T0, "m1", feats, 0.0042)
    assert await store.experience("a") == []
    await store.record_outcome("a", "BTCUSDT", T0, -0.0031, "stop_loss", T0 + 9 * MIN)
    (row,) = await store.experience("a")
    assert row.features == (0.1, None, 1e-300, -2.5)
    assert (row.prediction, row.realised_return, row.exit_reason, row.exit_time_ms) == (
        0.0042,
        -0.0031,
        "stop_loss",
        T0 + 9 * MIN,
    )


async def test_export_run_has_every_table(engine: AsyncEngine) -> None:
    store = TradingStore(engine)
    await store.start_run("x", "sim", T0)
    exported: dict[str, list[dict[str, Any]]] = await store.export_run("x")
    assert set(exported) == {
        "live_runs",
        "signals",
        "orders",
        "fills",
        "positions",
        "live_trades",
        "account_snapshots",
        "experience",
    }
    assert exported["live_runs"] == [
        {"venue": "sim", "started_ms": T0, "ended_ms": None, "config": "{}"}
    ]


_KIND_ORDER = [
    StartRun,
    SignalOp,
    OrderIntent,
    FillOp,
    PositionOp,
    ClosePosition,
    OrderUpdate,
    TradeOp,
    AccountSnapshot,
    ExperienceOp,
    OutcomeOp,
    EndRun,
]


def by_kind(ops: list[WriteOp]) -> list[WriteOp]:
    """The ops sorted by kind (stable, rows before their updates): long runs of one kind,
    which `apply_many` sends as one executemany each."""
    return sorted(ops, key=lambda op: _KIND_ORDER.index(type(op)))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.one_of(
        st.lists(op_strategy(), max_size=25).map(write_ahead),
        st.lists(op_strategy(), max_size=25).map(by_kind).map(write_ahead),
    )
)
async def test_a_batch_ends_as_the_same_ops_one_by_one(
    engine: AsyncEngine, ops: list[WriteOp]
) -> None:
    """`apply_many` joins neighbouring ops of one kind into one execution; the rows must end
    exactly as when every op is its own statement (order within a run kept, two upserts of
    one position never joined)."""
    store = TradingStore(engine)
    single, batched = fresh_run(), fresh_run()
    for op in as_run(ops, single):
        await store.apply(op)
    await store.apply_many(as_run(ops, batched))
    assert await store.export_run(batched) == await store.export_run(single)
