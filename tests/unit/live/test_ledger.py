"""The Brain's ledger: what is written, and — the promise — in which order relative to the
engine and the venue: a fill before the engine books it, an intent before the order leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from slt.config import BaselineConfig, FeeConfig, RiskConfig
from slt.domain import (
    Command,
    Event,
    Fill,
    OrderFilled,
    OrderRequest,
    PlaceOrder,
    Position,
    Signal,
)
from slt.domain.enums import ExitReason, OrderPurpose, OrderType, Side
from slt.engine.engine import Engine
from slt.engine.state import EngineState, PendingEntry
from slt.live.ledger import Ledger, position_ops
from slt.live.reconcile import ExchangeView, reconcile
from slt.live.trader import Trader
from slt.rules import bundled_rules
from slt.storage.trading_ops import (
    ClosePosition,
    FillOp,
    OrderIntent,
    OrderUpdate,
    PositionOp,
    SignalOp,
    TradeOp,
    WriteOp,
)
from slt.storage.trading_writes import TradingWrites
from slt.strategy.baseline import EmaAtrBaseline

replace = msgspec.structs.replace
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "ADAUSDT")


def _position(symbol: str, entry_ms: int = 1_000, stop: str = "99000") -> Position:
    return Position(
        symbol=symbol,
        side=Side.LONG,
        quantity=Decimal("0.01"),
        entry_price=Decimal(100_000),
        entry_time_ms=entry_ms,
        leverage=5,
        margin=Decimal(200),
        initial_quantity=Decimal("0.01"),
        stop_price=Decimal(stop),
        take_profit_price=None,
        partial_price=None,
        stop_client_id="slt-1-SL",
        stop_reason=ExitReason.STOP_LOSS,
        best_price=1e5,
        mark_price=1e5,
        liquidation_price=None,
        expected_return=0.01,
        confidence=1.0,
        source="t",
    )


@given(
    before=st.sets(st.sampled_from(SYMBOLS)),
    after=st.sets(st.sampled_from(SYMBOLS)),
    moved=st.sets(st.sampled_from(SYMBOLS)),
    marked=st.sets(st.sampled_from(SYMBOLS)),
)
def test_position_ops_write_plan_changes_and_closes_never_mark_moves(
    before: set[str], after: set[str], moved: set[str], marked: set[str]
) -> None:
    old = [_position(s) for s in sorted(before)]
    new = []
    for s in sorted(after):
        p = _position(s, stop="99500" if s in moved else "99000")
        if s in marked:
            p = replace(p, mark_price=101_000.0, best_price=101_000.0)
        new.append(p)
    ops = position_ops("r", old, new, 5)
    upserts = {op.symbol for op in ops if isinstance(op, PositionOp)}
    closes = {op.symbol for op in ops if isinstance(op, ClosePosition)}
    assert upserts == (after - before) | (after & before & moved)
    assert closes == before - after
    assert all(op.entry_time_ms == 1_000 for op in ops if isinstance(op, PositionOp))


class Recorder(TradingWrites):
    """Keeps every op with what the engine and the venue had done when it was written."""

    def __init__(self) -> None:
        self.trader: Trader | None = None
        self.seen: list[tuple[WriteOp, int, int]] = []

    async def apply(self, op: WriteOp) -> None:
        assert self.trader is not None
        executor = self.trader.executor
        self.seen.append((op, len(self.trader.state.positions), executor.placed))  # type: ignore[attr-defined]


class CountingExecutor:
    def __init__(self) -> None:
        self.marks: dict[str, float] = {"BTCUSDT": 100_000.0}
        self.placed = 0

    async def execute(self, command: Command, order_of: object) -> list[Event]:
        if isinstance(command, PlaceOrder):
            self.placed += 1
        return []

    async def resolve_doubtful(self) -> list[Event]:
        return []


def test_a_fill_is_stored_before_the_engine_books_it_and_intents_before_orders_leave(
    tmp_path: Path,
) -> None:
    entry = OrderRequest(
        "slt-7-EN",
        "BTCUSDT",
        Side.LONG,
        OrderType.MARKET,
        OrderPurpose.ENTRY,
        quantity=Decimal("0.010"),
        leverage=5,
    )
    pending = PendingEntry(entry, 5, Decimal(200), 0.01, 1.0, "t")
    state = EngineState(balance=Decimal(10_000), time_ms=1_000, pending=(pending,), seq=7)
    executor = CountingExecutor()
    trader = Trader(
        Engine(bundled_rules(), RiskConfig(), FeeConfig()),
        EmaAtrBaseline(BaselineConfig()),
        executor,  # type: ignore[arg-type]
        state,
        state_path=tmp_path / "state.json",
        venue="local",
    )
    recorder = Recorder()
    recorder.trader = trader
    trader.ledger = Ledger(recorder, "r", "local")
    fill = Fill(
        "slt-7-EN", "BTCUSDT", Side.LONG, Decimal(100_000), Decimal("0.010"), Decimal("0.5"), 2_000
    )
    asyncio.run(trader.apply(OrderFilled(fill)))

    assert len(trader.state.positions) == 1 and executor.placed >= 1  # stop (and target) sent
    kinds = [type(op).__name__ for op, _, _ in recorder.seen]
    fill_op = next(x for x in recorder.seen if isinstance(x[0], FillOp))
    assert fill_op[1] == 0, "the fill was written after the engine had booked it"
    position = next(x for x in recorder.seen if isinstance(x[0], PositionOp))
    assert position[0].entry_time_ms == 2_000
    intents = [x for x in recorder.seen if isinstance(x[0], OrderIntent)]
    assert intents and all(placed == 0 for _, _, placed in intents), kinds
    assert len(intents) == executor.placed
    filled = [op for op, _, _ in recorder.seen if isinstance(op, OrderUpdate)]
    assert [(u.client_id, u.status) for u in filled] == [("slt-7-EN", "filled")]
    assert kinds.index("FillOp") < kinds.index("PositionOp") < kinds.index("OrderIntent")
    assert not [op for op, _, _ in recorder.seen if isinstance(op, TradeOp)]


def test_reconcile_adopts_a_position_with_the_entry_time_the_database_remembers() -> None:
    rules = bundled_rules()
    row = {
        "symbol": "BTCUSDT",
        "positionAmt": "0.010",
        "entryPrice": "100000",
        "leverage": "5",
        "markPrice": "100100",
        "updateTime": 9_000_000,  # the exchange's last change, e.g. a partial exit
    }
    view = ExchangeView(9_500_000, Decimal(10_000), [row], [], [])
    empty = EngineState(balance=Decimal(10_000))
    remembered = reconcile(empty, view, rules, RiskConfig(), {"BTCUSDT": (Side.LONG, 1_000_000)})
    assert remembered.state.positions[0].entry_time_ms == 1_000_000
    other_side = reconcile(empty, view, rules, RiskConfig(), {"BTCUSDT": (Side.SHORT, 1_000_000)})
    assert other_side.state.positions[0].entry_time_ms == 9_000_000
    unknown = reconcile(empty, view, rules, RiskConfig())
    assert unknown.state.positions[0].entry_time_ms == 9_000_000


class Batches(TradingWrites):
    """Keeps each `apply_many` call as one batch: one batch is one transaction."""

    def __init__(self) -> None:
        self.batches: list[list[WriteOp]] = []

    async def apply(self, op: WriteOp) -> None:
        self.batches.append([op])

    async def apply_many(self, ops: Iterable[WriteOp]) -> None:
        self.batches.append(list(ops))


def test_signals_ride_with_the_step_they_cause_and_leftovers_wait_for_a_lull() -> None:
    """A queued signal costs no transaction of its own between a candle and its order: it is
    stored ahead of the order it led to in that step's batch; a signal that led to nothing is
    stored by `flush_signals` (the Brain calls it when the ring is empty) or with the next
    account snapshot."""
    writes = Batches()
    ledger = Ledger(writes, "r", "local")
    state = EngineState(balance=Decimal(10_000), time_ms=1_000)
    order = OrderRequest(
        "slt-1-EN", "BTCUSDT", Side.LONG, OrderType.MARKET, OrderPurpose.ENTRY, Decimal("0.01")
    )

    async def run() -> None:
        ledger.queue_signals([Signal("ETHUSDT", 1_000, 1, 0.004, 0.7, 0.01)])
        await ledger.after_step(None, state, state, [])  # nothing to write: nothing written
        assert writes.batches == []
        ledger.queue_signals([Signal("BTCUSDT", 1_000, 1, 0.005, 0.8, 0.01)])
        await ledger.after_step(None, state, state, [PlaceOrder(order)])
        ledger.queue_signals([Signal("SOLUSDT", 61_000, -1, 0.003, 0.6, 0.01)])
        await ledger.flush_signals()
        await ledger.flush_signals()  # nothing left: no empty transaction
        ledger.queue_signals([Signal("ADAUSDT", 121_000, 1, 0.003, 0.6, 0.01)])
        await ledger.account(state, 121_000)

    asyncio.run(run())
    kinds = [[type(op).__name__ for op in batch] for batch in writes.batches]
    assert kinds == [
        ["SignalOp", "SignalOp", "OrderIntent"],
        ["SignalOp"],
        ["SignalOp", "AccountSnapshot"],
    ]
    stored = [op.symbol for batch in writes.batches for op in batch if isinstance(op, SignalOp)]
    assert stored == ["ETHUSDT", "BTCUSDT", "SOLUSDT", "ADAUSDT"]
