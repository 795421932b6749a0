"""Protections end to end: the daily drawdown halt stops new entries until the next UTC day, and
a losing streak starts a cooldown. Open positions keep being managed either way."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from slt.config import FeeConfig, RiskConfig
from slt.domain import OrderPurpose

if TYPE_CHECKING:
    from conftest import World, WorldFactory

BTC = "BTCUSDT"
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
T0 = 1_704_067_200_000


def entry_times(w: World) -> list[int]:
    return [c.order.created_ms for c in w.placed() if c.order.purpose is OrderPurpose.ENTRY]


def test_daily_drawdown_halts_entries_until_the_next_utc_day(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    w = world_with(RiskConfig(daily_drawdown_halt=0.03), fees=no_costs, start=T0 + 23 * HOUR)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 57000, low=56900, close=57000, signal=w.long(BTC))  # gap through the stop: −4.98 %
    (trade,) = w.trades
    assert float(trade.net_pnl) / 10_000 < -0.03
    assert [n.kind for n in w.notices("halt")] == ["halt"]
    assert w.state.protections.halted
    assert len(entry_times(w)) == 1  # the signal at the halting close was not taken
    while w.now < T0 + DAY:
        w.bar(BTC, 57000, signal=w.long(BTC))
    assert len(entry_times(w)) == 2
    assert entry_times(w)[1] == T0 + DAY  # the first close of the new UTC day
    assert not w.state.protections.halted
    assert w.state.protections.day_start_equity == float(w.state.balance)


def test_drawdown_counts_unrealised_losses(world_with: WorldFactory, no_costs: FeeConfig) -> None:
    """A position under water (but above its stop) counts towards the day's drawdown."""
    risk = RiskConfig(daily_drawdown_halt=0.005, stop_loss_pct=0.05, partial_take_profit=False)
    w = world_with(risk, fees=no_costs)
    pos = w.open_and_fill(BTC, 60000)
    assert pos.stop_price == Decimal("57000") and pos.quantity == Decimal("0.033")
    w.bar(BTC, 59500, low=59500, close=59500)  # −16.5 USDT: 0.165 %
    assert not w.state.protections.halted
    w.bar(BTC, 59000, low=58000, close=58000)  # −66 USDT: 0.66 % of 10 000
    assert w.state.protections.halted
    assert w.trades == [] and w.position(BTC) is not None  # the position itself stays


def test_cooldown_after_three_losses_in_a_row(
    world_with: WorldFactory, no_costs: FeeConfig
) -> None:
    w = world_with(RiskConfig(max_consecutive_losses=3, cooldown_ms=HOUR), fees=no_costs)
    for _ in range(3):
        w.open_and_fill(BTC, 60000)
        w.bar(BTC, 60000, low=59000, close=59500)  # stopped out
    assert len(w.trades) == 3 and all(t.net_pnl < 0 for t in w.trades)
    assert [n.kind for n in w.notices("cooldown")] == ["cooldown"]
    until = w.state.protections.cooldown_until_ms
    assert until == w.trades[-1].exit_time_ms + HOUR
    taken = len(entry_times(w))
    while w.now < until - MINUTE:
        w.bar(BTC, 59500, signal=w.long(BTC))
    assert len(entry_times(w)) == taken  # nothing during the cooldown
    w.bar(BTC, 59500, signal=w.long(BTC))
    assert len(entry_times(w)) == taken + 1
    assert entry_times(w)[-1] >= until


def test_a_win_breaks_the_streak(world_with: WorldFactory, no_costs: FeeConfig) -> None:
    w = world_with(RiskConfig(max_consecutive_losses=2), fees=no_costs)
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60000, low=59000, close=59500)  # loss
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60000, high=62000, close=61500)  # scale-out and target: a win
    w.open_and_fill(BTC, 60000)
    w.bar(BTC, 60000, low=59000, close=59500)  # loss
    assert [t.net_pnl > 0 for t in w.trades] == [False, True, False]
    assert w.notices("cooldown") == []
    assert w.state.protections.cooldown_until_ms == 0
