"""The values a backtest creates by the thousand are not tracked by the garbage collector.

They are frozen and hold only numbers, strings, enum members and other such values, so they
cannot form a reference cycle; untracked, the trades a run keeps (and the positions, orders and
states it makes and drops) no longer count toward the collector's next pass."""

from __future__ import annotations

import gc
from decimal import Decimal

from slt.domain import (
    BarsClosed,
    ExitLeg,
    ExitReason,
    Fill,
    OrderAccepted,
    OrderFilled,
    OrderPurpose,
    OrderRejected,
    OrderRequest,
    OrderType,
    PlaceOrder,
    Position,
    RecordTrade,
    Side,
    TradeRecord,
)
from slt.engine.state import EngineState, PendingEntry

ONE = Decimal(1)


def test_engine_values_are_not_tracked() -> None:
    order = OrderRequest("slt-1-E", "BTCUSDT", Side.LONG, OrderType.MARKET, OrderPurpose.ENTRY, ONE)
    fill = Fill("slt-1-E", "BTCUSDT", Side.LONG, ONE, ONE, ONE, 0)
    leg = ExitLeg(0, ONE, ONE, ExitReason.STOP_LOSS, ONE, ONE)
    position = Position(
        "BTCUSDT", Side.LONG, ONE, ONE, 0, 1, ONE, ONE, ONE, None, None, "s",
        ExitReason.STOP_LOSS, 1.0, 1.0, None, 0.0, 0.0, "test", exits=(leg,),
    )  # fmt: skip
    trade = TradeRecord(
        "BTCUSDT", Side.LONG, 0, 1, ONE, ONE, ONE, 1, ONE, ONE, ONE, ONE, ONE, 0.0,
        ExitReason.STOP_LOSS, (leg,), 0.0, 0.0, "test",
    )  # fmt: skip
    pending = PendingEntry(order, 1, ONE, 0.0, 0.0, "test")
    state = EngineState(ONE, 0, (position,), (pending,), (order,))
    values = [
        order,
        fill,
        leg,
        position,
        trade,
        pending,
        state,
        BarsClosed(0, ()),
        OrderAccepted(order, 0),
        OrderRejected(order, 0, -2019, "Margin is insufficient."),
        OrderFilled(fill),
        PlaceOrder(order),
        RecordTrade(trade),
    ]
    assert [type(v).__name__ for v in values if gc.is_tracked(v)] == []
