"""The seven exits, end to end through the Engine and the simulated venue.

Each scenario opens a BTCUSDT long at 60 000 (no fees, no slippage, so every price is exact:
stop 59 400, scale-out 60 600, target 61 200, 0.166 BTC at 6x), moves the market, and checks the
reason code of the trade record the engine emits, where the exit filled, and what was booked.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from slt.config import FeeConfig, RiskConfig
from slt.domain import ExitReason, OrderPurpose, PlaceOrder, Side

if TYPE_CHECKING:
    from conftest import World, WorldFactory

D = Decimal
BTC = "BTCUSDT"
MINUTE = 60_000
HOUR = 60 * MINUTE


def exit_orders(world: World) -> list[PlaceOrder]:
    return [c for c in world.placed() if c.order.purpose is OrderPurpose.EXIT]


def test_opened_position_carries_its_protective_orders(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    w = world_with(fees=no_costs)
    pos = w.open_and_fill(BTC, 60000)
    assert (pos.quantity, pos.entry_price, pos.leverage) == (D("0.166"), D("60000"), 6)
    assert pos.stop_price == D("59400") and pos.take_profit_price == D("61200")
    assert pos.partial_price == D("60600")
    resting = {o.purpose: o for o in w.venue.resting[BTC]}
    assert set(resting) == {
        OrderPurpose.STOP_LOSS,
        OrderPurpose.TAKE_PROFIT,
        OrderPurpose.PARTIAL_TAKE_PROFIT,
    }
    assert resting[OrderPurpose.PARTIAL_TAKE_PROFIT].quantity == D("0.083")
    assert {o.client_id for o in w.state.orders} == {o.client_id for o in resting.values()}


def test_stop_loss(world_with: WorldFactory, no_costs: FeeConfig) -> None:
    w = world_with(fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60000, low=59300, close=59500)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.STOP_LOSS
    assert trade.exit_price == D("59400")
    assert trade.net_pnl == D("-99.6")  # 0.166 × −600: the 1 % risk budget of 10 000, rounded down
    assert w.position(BTC) is None and w.state.orders == ()
    assert w.venue.positions == {} and not w.venue.resting.get(BTC)


def test_take_profit(world_with: WorldFactory, no_costs: FeeConfig) -> None:
    w = world_with(RiskConfig(partial_take_profit=False), fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60000, high=61300, close=61250)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.TAKE_PROFIT
    assert trade.exit_price == D("61200")
    assert trade.net_pnl == D("199.2")


def test_stop_wins_when_stop_and_target_are_in_the_same_candle(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    w = world_with(RiskConfig(partial_take_profit=False), fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60000, high=61500, low=59000, close=61400)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.STOP_LOSS
    assert trade.exit_price == D("59400")


def test_gap_through_the_stop_fills_at_the_open(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    w = world_with(fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 59000, low=58900, close=59100)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.STOP_LOSS
    assert trade.exit_price == D("59000")
    assert trade.net_pnl == D("-166")


def test_partial_take_profit_then_breakeven_stop(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    w = world_with(fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60100, high=60700, low=60050, close=60500)
    pos = w.position(BTC)
    assert pos is not None and pos.quantity == D("0.083")
    assert pos.stop_price == D("60000") and pos.stop_reason is ExitReason.TRAILING_STOP
    venue_stops = [o for o in w.venue.resting[BTC] if o.purpose is OrderPurpose.STOP_LOSS]
    assert [o.stop_price for o in venue_stops] == [D("60000")]
    assert w.trades == []
    w.bar(BTC, 60400, low=59950, close=60100)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.TRAILING_STOP
    assert [leg.reason for leg in trade.exits] == [
        ExitReason.PARTIAL_TAKE_PROFIT,
        ExitReason.TRAILING_STOP,
    ]
    assert [leg.price for leg in trade.exits] == [D("60600"), D("60000")]
    assert trade.quantity == D("0.166")
    assert trade.net_pnl == D("49.8")  # 0.083 × 600 on the scale-out, nothing on the rest


def test_breakeven_stop_survives_a_candle_that_opened_below_entry(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    """The scale-out fills intrabar at 60 600, so the market is above the entry when the engine
    moves the stop to 60 000; the venue must not judge that stop against the candle's open
    (59 800) and refuse it as 'would immediately trigger'."""
    w = world_with(fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 59800, high=60700, low=59700, close=60300)
    assert w.rejections == []
    pos = w.position(BTC)
    assert pos is not None and pos.closing_reason is None
    assert pos.stop_price == D("60000")
    assert exit_orders(w) == []


def test_partial_then_target(world_with: WorldFactory, no_costs: FeeConfig) -> None:
    w = world_with(fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60000, high=61300, close=61250)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.TAKE_PROFIT
    assert [(leg.reason, leg.quantity) for leg in trade.exits] == [
        (ExitReason.PARTIAL_TAKE_PROFIT, D("0.083")),
        (ExitReason.TAKE_PROFIT, D("0.083")),
    ]
    assert trade.exit_price == D("60900")  # quantity-weighted
    assert trade.net_pnl == D("149.4")


def test_trailing_stop_follows_the_best_close_and_exits_in_profit(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    risk = RiskConfig(partial_take_profit=False, take_profit_pct=0.05)
    w = world_with(risk, fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60000, close=60700)  # +1.17 %: trailing is active, 0.6 % behind the close
    pos = w.position(BTC)
    assert pos is not None
    assert pos.stop_price == D("60335.8") and pos.stop_reason is ExitReason.TRAILING_STOP
    w.bar(BTC, 60700, close=61000)
    pos = w.position(BTC)
    assert pos is not None and pos.stop_price == D("60634.0")
    w.bar(BTC, 61000, close=60800, low=60750)  # a lower close never loosens the stop
    assert w.held(BTC).stop_price == D("60634.0")
    w.bar(BTC, 60800, low=60500, close=60600)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.TRAILING_STOP
    assert trade.exit_price == D("60634.0")
    assert trade.net_pnl > 0
    # the venue only ever held one stop at a time
    assert [o.purpose for o in w.venue.resting.get(BTC, [])] == []


def test_time_exit_fires_two_hours_after_entry(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    w = world_with(fees=no_costs)
    pos = w.open_and_fill(BTC, 60000)
    entry_ms = pos.entry_time_ms
    while w.now < entry_ms + 2 * HOUR - MINUTE:
        w.bar(BTC, 60000)
    assert exit_orders(w) == []  # 1 h 59 m: still held
    w.bar(BTC, 60000)
    (placed,) = exit_orders(w)
    assert placed.order.created_ms == entry_ms + 2 * HOUR
    assert placed.order.reduce_only and placed.order.quantity == pos.quantity
    w.bar(BTC, 60010)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.TIME_EXIT
    assert trade.holding_ms == 2 * HOUR
    assert trade.exit_price == D("60010")  # the next open, not the deciding close


def test_time_exit_on_a_timer_tick_without_candles(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    w = world_with(fees=no_costs)
    pos = w.open_and_fill(BTC, 60000)
    w.timer(pos.entry_time_ms + 2 * HOUR - 1)
    assert exit_orders(w) == []
    w.timer(pos.entry_time_ms + 2 * HOUR)
    assert len(exit_orders(w)) == 1
    assert w.held(BTC).closing_reason is ExitReason.TIME_EXIT
    w.bar(BTC, 60000)
    assert [t.exit_reason for t in w.trades] == [ExitReason.TIME_EXIT]


def test_emergency_exit_when_the_loss_eats_the_margin(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    """A wide 20 % stop forces low leverage (4x, margin 25 % of notional); with the emergency
    threshold at 20 % of margin the position is closed at a close 6.7 % down, long before its
    stop or the exchange's liquidation."""
    risk = RiskConfig(stop_loss_pct=0.2, emergency_margin_loss=0.2, partial_take_profit=False)
    w = world_with(risk, fees=no_costs)
    pos = w.open_and_fill(BTC, 60000, confidence=1.0)
    assert pos.leverage == 4 and pos.stop_price == D("48000")
    w.bar(BTC, 60000, low=57500, close=57500)  # −4.2 %: loss 16.6 % of margin, held
    assert exit_orders(w) == []
    w.bar(BTC, 57500, low=56000, close=56000)  # −6.7 %: 26.7 % of margin
    assert w.held(BTC).closing_reason is ExitReason.EMERGENCY
    w.bar(BTC, 55900)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.EMERGENCY
    assert trade.exit_price == D("55900")


def test_signal_reversal_exit_then_the_opposite_entry(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    w = world_with(fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60000, close=60100, signal=w.short(BTC))
    assert w.held(BTC).closing_reason is ExitReason.SIGNAL_REVERSAL
    w.bar(BTC, 60200)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.SIGNAL_REVERSAL
    assert trade.exit_price == D("60200")
    pos = w.position(BTC)
    assert pos is not None and pos.side is Side.SHORT and pos.entry_price == D("60200")
    assert w.venue.positions[BTC].side == -1 and w.venue.positions[BTC].quantity == pos.quantity


def test_same_direction_signal_keeps_the_position(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    w = world_with(fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60000, signal=w.long(BTC, expected_return=0.02, confidence=0.9))
    pos = w.position(BTC)
    assert pos is not None and pos.closing_reason is None and pos.quantity == D("0.166")
    assert (pos.expected_return, pos.confidence) == (0.02, 0.9)
    assert w.state.pending == ()


def test_liquidation_when_the_stop_is_gone(world_with: WorldFactory) -> None:
    """A position whose stop was lost at the exchange is liquidated when price crosses its
    liquidation price: the trade is recorded as a liquidation and costs exactly its margin plus
    the entry fee."""
    risk = RiskConfig(min_leverage=20, max_leverage=20, stop_loss_pct=0.03)
    w = world_with(risk)
    pos = w.open_and_fill(BTC, 60000, confidence=1.0)
    assert pos.leverage == 20 and pos.liquidation_price is not None
    w.venue.resting[BTC].clear()  # the exchange dropped every resting order
    liq = float(pos.liquidation_price)
    w.bar(BTC, 60000, low=liq - 10, close=liq - 5)
    (trade,) = w.trades
    assert trade.exit_reason is ExitReason.LIQUIDATION
    assert abs(trade.net_pnl + pos.margin + pos.fees) <= D("0.00000001")
    assert w.position(BTC) is None and w.venue.positions == {}
    assert w.state.balance == w.venue.balance
    assert sum(t.net_pnl for t in w.trades) == w.state.balance - D("10000")


def test_end_of_data_closes_everything(world: World) -> None:
    world.open_and_fill(BTC, 60000)
    world.close_all()
    (trade,) = world.trades
    assert trade.exit_reason is ExitReason.END_OF_DATA
    assert world.state.positions == () and world.venue.positions == {}
