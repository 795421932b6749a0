"""A venue that refuses everything must not trap the Brain in a loop: the chain is cut."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from slt.config import BaselineConfig, FeeConfig, RiskConfig
from slt.domain import Command, Event, OrderRejected, OrderRequest, PlaceOrder
from slt.domain.enums import ExitReason, OrderPurpose, OrderType, Side
from slt.domain.position import Position
from slt.engine.engine import Engine
from slt.engine.state import EngineState
from slt.live.trader import MAX_CHAIN, Trader
from slt.rules import bundled_rules
from slt.strategy.baseline import EmaAtrBaseline


class RefusingExecutor:
    """Answers every order with a refusal, as a venue in a bad state would."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {"BTCUSDT": 100_000.0}
        self.placed = 0

    async def execute(self, command: Command, order_of: object) -> list[Event]:
        if isinstance(command, PlaceOrder):
            self.placed += 1
            return [OrderRejected(command.order, 1, -1001, "internal error")]
        return []

    async def resolve_doubtful(self) -> list[Event]:
        return []


def test_a_refusal_loop_is_cut_and_a_reconciliation_is_scheduled(tmp_path: Path) -> None:
    stop = OrderRequest(
        "slt-1-SL",
        "BTCUSDT",
        Side.SHORT,
        OrderType.STOP_MARKET,
        OrderPurpose.STOP_LOSS,
        stop_price=Decimal(99_000),
        close_position=True,
    )
    pos = Position(
        symbol="BTCUSDT",
        side=Side.LONG,
        quantity=Decimal("0.01"),
        entry_price=Decimal(100_000),
        entry_time_ms=0,
        leverage=5,
        margin=Decimal(200),
        initial_quantity=Decimal("0.01"),
        stop_price=Decimal(99_000),
        take_profit_price=None,
        partial_price=None,
        stop_client_id="slt-1-SL",
        stop_reason=ExitReason.STOP_LOSS,
        best_price=1e5,
        mark_price=1e5,
        liquidation_price=None,
        expected_return=0.0,
        confidence=0.0,
        source="t",
    )
    state = EngineState(balance=Decimal(10_000), positions=(pos,), orders=(stop,), seq=2)
    executor = RefusingExecutor()
    trader = Trader(
        Engine(bundled_rules(), RiskConfig(), FeeConfig()),
        EmaAtrBaseline(BaselineConfig()),
        executor,  # type: ignore[arg-type]
        state,
        state_path=tmp_path / "state.json",
        venue="local",
    )
    asyncio.run(trader.apply(OrderRejected(stop, 1, -1001, "internal error")))
    assert trader.needs_reconcile
    assert 0 < executor.placed <= MAX_CHAIN
    assert (tmp_path / "state.json").is_file()  # written ahead of every order
