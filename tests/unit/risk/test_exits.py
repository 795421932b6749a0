"""Exit decisions as pure functions: protective prices, the close-time exits in priority order,
the emergency rule, and the trailing / breakeven stop that may only ever move in favour."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import RiskConfig
from slt.domain import ExitReason, Position, Side, Signal
from slt.risk.exits import (
    breakeven_stop,
    close_exit_reason,
    is_emergency,
    protective_prices,
    trailed_stop,
)
from slt.rules import bundled_rules, isolated_liquidation_price

RULES = bundled_rules()
BTC = RULES.get("BTCUSDT")  # tick 0.10, step 0.001
DOGE = RULES.get("DOGEUSDT")  # tick 0.00001, step 1
T0 = 1_704_067_200_000
HOUR = 3_600_000


def position(
    side: Side = Side.LONG,
    *,
    entry: str = "100",
    quantity: str = "10",
    leverage: int = 10,
    stop: str | None = None,
    mark: float | None = None,
    best: float | None = None,
    entry_ms: int = T0,
    **kw: Any,
) -> Position:
    """A position as the engine holds it, with the liquidation price the rules give."""
    e, q = Decimal(entry), Decimal(quantity)
    margin = q * e / leverage
    liq = isolated_liquidation_price(
        BTC, side=int(side), quantity=q, entry_price=e, wallet_balance=margin
    )
    default_stop = e * (1 - int(side) * Decimal("0.01"))
    fields: dict[str, Any] = dict(
        symbol="BTCUSDT",
        side=side,
        quantity=q,
        entry_price=e,
        entry_time_ms=entry_ms,
        leverage=leverage,
        margin=margin,
        initial_quantity=q,
        stop_price=Decimal(stop) if stop is not None else default_stop,
        take_profit_price=None,
        partial_price=None,
        stop_client_id="slt-1-SL",
        stop_reason=ExitReason.STOP_LOSS,
        best_price=float(e) if best is None else best,
        mark_price=float(e) if mark is None else mark,
        liquidation_price=liq,
        expected_return=0.01,
        confidence=0.5,
        source="test",
    )
    fields.update(kw)
    return Position(**fields)


def signal(direction: int) -> Signal:
    return Signal("BTCUSDT", T0, direction, 0.01, 0.5, 0.005)


# -- protective prices ----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    symbol=st.sampled_from(["BTCUSDT", "ETHUSDT", "DOGEUSDT", "SOLUSDT", "XRPUSDT"]),
    side=st.sampled_from([Side.LONG, Side.SHORT]),
    entry_ticks=st.integers(min_value=1_000, max_value=10_000_000),
    qty_steps=st.integers(min_value=1, max_value=100_000),
    sl=st.floats(min_value=0.001, max_value=0.2),
    tp=st.floats(min_value=0.001, max_value=0.5),
    partial_at=st.floats(min_value=0.1, max_value=0.9),
)
def test_protective_prices_are_on_the_grid_and_never_worse_than_configured(
    symbol: str,
    side: Side,
    entry_ticks: int,
    qty_steps: int,
    sl: float,
    tp: float,
    partial_at: float,
) -> None:
    """The stop never risks more than `stop_loss_pct` (rounded a tick toward the entry); the target
    never takes less than `take_profit_pct`; the scale-out sits between entry and target and leaves
    both parts tradeable."""
    rules = RULES.get(symbol)
    cfg = RiskConfig(stop_loss_pct=sl, take_profit_pct=tp, partial_at=partial_at)
    entry = entry_ticks * rules.tick_size
    qty = qty_steps * rules.step_size
    p = protective_prices(cfg, rules, side, entry, qty)
    s = int(side)
    for price in (p.stop, p.take_profit):
        assert price % rules.tick_size == 0
    loss_pct = s * (entry - p.stop) / entry
    gain_pct = s * (p.take_profit - entry) / entry
    assert loss_pct <= Decimal(repr(sl))
    assert loss_pct > Decimal(repr(sl)) - rules.tick_size / entry  # at most a tick tighter
    assert gain_pct >= Decimal(repr(tp))
    if p.partial is not None:
        assert p.partial_quantity is not None
        assert p.partial % rules.tick_size == 0
        assert s * (p.partial - entry) > 0 and s * (p.take_profit - p.partial) >= 0
        assert p.partial_quantity >= rules.min_qty
        assert qty - p.partial_quantity >= rules.min_qty
        assert p.partial_quantity % rules.step_size == 0


def test_protective_prices_worked_example() -> None:
    cfg = RiskConfig(stop_loss_pct=0.01, take_profit_pct=0.02, partial_at=0.5, partial_fraction=0.5)
    long = protective_prices(cfg, BTC, Side.LONG, Decimal("60022.10"), Decimal("0.166"))
    # 59421.879 → 59421.9 (a tick toward entry); 61222.542 → 61222.6; 60622.321 → 60622.4
    assert long.stop == Decimal("59421.9")
    assert long.take_profit == Decimal("61222.6")
    assert long.partial == Decimal("60622.4")
    assert long.partial_quantity == Decimal("0.083")
    short = protective_prices(cfg, BTC, Side.SHORT, Decimal("60022.10"), Decimal("0.166"))
    # 60622.321 → 60622.3; 58821.658 → 58821.6; 59421.879 → 59421.8
    assert (short.stop, short.take_profit, short.partial) == (
        Decimal("60622.3"),
        Decimal("58821.6"),
        Decimal("59421.8"),
    )


def test_partial_is_dropped_when_a_part_would_be_below_min_qty() -> None:
    cfg = RiskConfig()
    tiny = protective_prices(cfg, BTC, Side.LONG, Decimal("60000"), Decimal("0.001"))
    assert tiny.partial is None and tiny.partial_quantity is None
    off = protective_prices(
        RiskConfig(partial_take_profit=False), BTC, Side.LONG, Decimal("60000"), Decimal("1")
    )
    assert off.partial is None


# -- exits at the close ---------------------------------------------------------------------------


def test_time_exit_fires_exactly_at_max_hold() -> None:
    cfg = RiskConfig()  # 2 h
    pos = position()
    assert close_exit_reason(cfg, pos, 100.0, None, T0 + 2 * HOUR - 1) is None
    assert close_exit_reason(cfg, pos, 100.0, None, T0 + 2 * HOUR) is ExitReason.TIME_EXIT


def test_close_exits_priority_time_then_emergency_then_reversal() -> None:
    cfg = RiskConfig()
    pos = position()  # 10x long from 100, loses its whole margin at 90
    late = T0 + 3 * HOUR
    assert close_exit_reason(cfg, pos, 89.0, signal(-1), late) is ExitReason.TIME_EXIT
    assert close_exit_reason(cfg, pos, 89.0, signal(-1), T0) is ExitReason.EMERGENCY
    assert close_exit_reason(cfg, pos, 99.5, signal(-1), T0) is ExitReason.SIGNAL_REVERSAL
    assert close_exit_reason(cfg, pos, 99.5, signal(1), T0) is None
    assert close_exit_reason(cfg, pos, 99.5, signal(0), T0) is None
    assert close_exit_reason(cfg, pos, 99.5, None, T0) is None


def test_signal_reversal_can_be_switched_off() -> None:
    cfg = RiskConfig(signal_reversal_exit=False)
    assert close_exit_reason(cfg, position(), 99.5, signal(-1), T0) is None
    short = position(Side.SHORT)
    assert close_exit_reason(RiskConfig(), short, 100.5, signal(1), T0) is (
        ExitReason.SIGNAL_REVERSAL
    )


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_emergency_fires_before_the_exchange_liquidates(side: Side) -> None:
    """Within `liquidation_buffer_pct` of the liquidation price the position is closed, even
    though the loss has not yet reached the whole margin."""
    cfg = RiskConfig(liquidation_buffer_pct=0.005)
    pos = position(side)
    assert pos.liquidation_price is not None
    liq = float(pos.liquidation_price)
    s = int(side)
    just_outside = liq + s * (0.005 * 100 + 0.01)
    just_inside = liq + s * (0.005 * 100 - 0.01)
    assert not is_emergency(cfg, pos, just_outside)
    assert is_emergency(cfg, pos, just_inside)
    # the buffer guard trips while less than the margin (10) is lost
    assert -pos.unrealized_pnl(just_inside) < float(pos.margin)


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_emergency_on_margin_loss(side: Side) -> None:
    cfg = RiskConfig(emergency_margin_loss=0.5, liquidation_buffer_pct=0)
    pos = position(side)  # margin 100 on 10 units: 0.5 × margin = 5 USDT per unit
    s = int(side)
    assert not is_emergency(cfg, pos, 100 - s * 4.99)
    assert is_emergency(cfg, pos, 100 - s * 5.0)


def test_emergency_without_a_liquidation_price_uses_the_margin_rule() -> None:
    pos = position(leverage=1, liquidation_price=None)
    cfg = RiskConfig(emergency_margin_loss=0.5)
    assert not is_emergency(cfg, pos, 51.0)
    assert is_emergency(cfg, pos, 50.0)


# -- trailing and breakeven -----------------------------------------------------------------------


def test_trailing_starts_at_activation_and_trails_the_best_close() -> None:
    cfg = RiskConfig(trailing_activation_pct=0.01, trailing_distance_pct=0.006)
    pos = position(entry="60000", quantity="0.1", stop="59400")
    assert trailed_stop(cfg, BTC, msgspec.structs.replace(pos, best_price=60599.0)) is None
    stop = trailed_stop(cfg, BTC, msgspec.structs.replace(pos, best_price=60600.0))
    # 60600 × 0.994 = 60236.4
    assert stop == Decimal("60236.4")
    short = position(Side.SHORT, entry="60000", quantity="0.1", stop="60600")
    assert trailed_stop(cfg, BTC, msgspec.structs.replace(short, best_price=59400.0)) == Decimal(
        "59756.4"
    )


def test_trailing_never_loosens_and_needs_a_whole_tick() -> None:
    cfg = RiskConfig(trailing_activation_pct=0.01, trailing_distance_pct=0.006)
    pos = position(entry="60000", quantity="0.1", stop="60236.4", best=60600.0)
    assert trailed_stop(cfg, BTC, pos) is None  # already there
    assert trailed_stop(cfg, BTC, msgspec.structs.replace(pos, best_price=60600.05)) is None
    assert trailed_stop(cfg, BTC, msgspec.structs.replace(pos, stop_price=Decimal("60300"))) is None


@settings(max_examples=100, deadline=None)
@given(
    side=st.sampled_from([Side.LONG, Side.SHORT]),
    moves=st.lists(st.floats(min_value=-0.02, max_value=0.02), min_size=1, max_size=60),
    activation=st.floats(min_value=0.001, max_value=0.03),
    distance=st.floats(min_value=0.001, max_value=0.03),
)
def test_trailing_stop_only_ever_moves_in_favour(
    side: Side, moves: list[float], activation: float, distance: float
) -> None:
    """Drive a position through a random path of closes as the engine does (best close, then
    maybe a new stop): the stop never moves against the position and always stays behind the
    best close."""
    cfg = RiskConfig(trailing_activation_pct=activation, trailing_distance_pct=distance)
    s = int(side)
    pos = position(
        side, entry="1.00000", quantity="1000", stop=str(Decimal("1") - s * Decimal("0.01"))
    )
    price = 1.0
    for move in moves:
        price = max(0.01, price * (1 + move))
        best = max(pos.best_price, price) if s > 0 else min(pos.best_price, price)
        pos = msgspec.structs.replace(pos, best_price=best, mark_price=price)
        new = trailed_stop(cfg, DOGE, pos)
        if new is None:
            continue
        assert s * (new - pos.stop_price) >= DOGE.tick_size
        assert s * (Decimal(repr(pos.best_price)) - new) > 0
        pos = msgspec.structs.replace(pos, stop_price=new)


def test_breakeven_moves_the_stop_to_entry_only_as_an_improvement() -> None:
    pos = position(entry="60000.05", quantity="0.1", stop="59400")
    assert breakeven_stop(BTC, pos) == Decimal("60000.1")  # rounded to the tick, never below
    short = position(Side.SHORT, entry="60000.05", quantity="0.1", stop="60600")
    assert breakeven_stop(BTC, short) == Decimal("60000.0")
    trailed = position(entry="60000", quantity="0.1", stop="60200")
    assert breakeven_stop(BTC, trailed) is None  # already better than breakeven
