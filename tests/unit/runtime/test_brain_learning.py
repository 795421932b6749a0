"""How the Brain hooks the live learner: every closed trade reaches it, and a promoted model
replaces the strategy's model in place (the model stack is not even imported for the
baseline)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from slt.config import BaselineConfig, FeeConfig, RiskConfig, load_settings
from slt.domain import Fill, OrderFilled, OrderRequest, TradeRecord
from slt.domain.enums import OrderPurpose, OrderType, Side
from slt.engine.engine import Engine
from slt.engine.state import EngineState, PendingEntry
from slt.live.trader import Trader
from slt.rules import bundled_rules
from slt.runtime.brain_process import _swap_model
from slt.runtime.strategy import live_learner
from slt.strategy.baseline import EmaAtrBaseline


class NoOrders:
    def __init__(self) -> None:
        self.marks = {"BTCUSDT": 100_000.0}

    async def execute(self, command: object, order_of: object) -> list[object]:
        return []

    async def resolve_doubtful(self) -> list[object]:
        return []


def test_every_closed_trade_reaches_the_learner_hook(tmp_path: Path) -> None:
    entry = OrderRequest(
        "slt-8-EN",
        "BTCUSDT",
        Side.LONG,
        OrderType.MARKET,
        OrderPurpose.ENTRY,
        quantity=Decimal("0.010"),
        leverage=5,
    )
    pending = PendingEntry(entry, 5, Decimal(200), 0.01, 1.0, "t")
    state = EngineState(balance=Decimal(10_000), time_ms=1_000, pending=(pending,), seq=9)
    trader = Trader(
        Engine(bundled_rules(), RiskConfig(), FeeConfig()),
        EmaAtrBaseline(BaselineConfig()),
        NoOrders(),  # type: ignore[arg-type]
        state,
        state_path=tmp_path / "state.json",
        venue="local",
    )
    closed: list[TradeRecord] = []
    trader.on_trade = closed.append
    fill = Fill(
        "slt-8-EN", "BTCUSDT", Side.LONG, Decimal(100_000), Decimal("0.010"), Decimal("0.5"), 2_000
    )
    asyncio.run(trader.apply(OrderFilled(fill)))
    assert closed == [] and len(trader.state.positions) == 1
    asyncio.run(trader.flatten(3_000))
    exits = [o for o in trader.state.orders if o.purpose is OrderPurpose.EXIT]
    assert len(exits) == 1
    out = Fill(
        exits[0].client_id,
        "BTCUSDT",
        Side.SHORT,
        Decimal(100_100),
        Decimal("0.010"),
        Decimal("0.5"),
        3_100,
    )
    asyncio.run(trader.apply(OrderFilled(out)))
    assert [t.exit_reason.value for t in closed] == ["shutdown"]
    assert not trader.state.positions


def test_the_baseline_has_no_learner_and_a_promotion_swaps_the_model(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    assert live_learner(settings, ("BTCUSDT",), "1m", "baseline") is None

    class Holder:
        model = "old"

    holder = Holder()
    _swap_model(holder, None)  # type: ignore[arg-type]
    assert holder.model == "old"
    _swap_model(holder, "new")  # type: ignore[arg-type]
    assert holder.model == "new"
