"""The exits, as pure decisions over a position and the latest closed candle.

Seven exits, each with its reason code: stop-loss, take-profit and partial take-profit are
resting orders at the venue (they fill intrabar); trailing stop / breakeven move the resting
stop; time, emergency and signal-reversal exits are decided here at a candle close.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from slt.config import RiskConfig
from slt.domain import ExitReason, Position, Side, Signal
from slt.domain.numbers import as_decimal, as_float, remembered_float
from slt.rules import Rounding, SymbolRules

# Enum members read from module globals (a member read from its class costs several times as
# much, and these are asked for every held position at every processed candle).
_LONG = Side.LONG
_UP = Rounding.UP
_DOWN = Rounding.DOWN
_SCREEN = 1e-9  # relative margin of trailed_stop's float test
_TIME_EXIT = ExitReason.TIME_EXIT
_EMERGENCY = ExitReason.EMERGENCY


class ProtectivePrices(msgspec.Struct, frozen=True, gc=False):
    """A new position's stop, target and scale-out (level and quantity; None without one).
    (A frozen struct rather than a dataclass: every entry fill builds one, and it builds faster.)"""

    stop: Decimal
    take_profit: Decimal
    partial: Decimal | None
    partial_quantity: Decimal | None


_Factors = tuple[Decimal, Decimal, Decimal, Decimal]
_FACTORS: dict[tuple[int, float, float, float, float], _Factors] = {}


def _factors(cfg: RiskConfig, side: int) -> _Factors:
    """(1 − s·sl, 1 + s·tp, 1 + s·tp·partial_at, partial_fraction) as Decimals for one side and
    configuration: the same numbers, from the same operations in the same order, that every
    entry computed before, computed once (every entry fill asks)."""
    key = (side, cfg.stop_loss_pct, cfg.take_profit_pct, cfg.partial_at, cfg.partial_fraction)
    factors = _FACTORS.get(key)
    if factors is None:
        s = Decimal(side)
        tp_pct = as_decimal(cfg.take_profit_pct)
        factors = (
            1 - s * as_decimal(cfg.stop_loss_pct),
            1 + s * tp_pct,
            1 + s * tp_pct * as_decimal(cfg.partial_at),
            as_decimal(cfg.partial_fraction),
        )
        if len(_FACTORS) >= 64:
            _FACTORS.clear()
        _FACTORS[key] = factors
    return factors


def stop_factor(cfg: RiskConfig, side: int) -> Decimal:
    """1 − side × stop_loss_pct as a Decimal (a stop's distance from the entry price, as the
    factor `protective_prices` applies), remembered per side and configuration."""
    return _factors(cfg, side)[0]


def protective_prices(
    cfg: RiskConfig, rules: SymbolRules, side: Side, entry: Decimal, quantity: Decimal
) -> ProtectivePrices:
    """Stop, target and scale-out level as fractions of the entry price, on the tick grid.

    Stops are rounded towards the entry (a tick tighter, never a tick more loss than configured);
    targets away from it. The partial level is dropped when its quantity or the remainder
    would fall below the symbol's minimum quantity.
    """
    stop_factor, target_factor, partial_factor, fraction = _factors(cfg, int(side))
    # toward the entry for a stop and away from it for a target: the same direction per side
    toward = away = _UP if side is _LONG else _DOWN
    stop = rules.round_price(entry * stop_factor, toward)
    target = rules.round_price(entry * target_factor, away)
    partial: Decimal | None = None
    partial_qty: Decimal | None = None
    if cfg.partial_take_profit:
        q = rules.round_qty(quantity * fraction, _DOWN)
        if q >= rules.min_qty and quantity - q >= rules.min_qty:
            partial = rules.round_price(entry * partial_factor, away)
            partial_qty = q
    return ProtectivePrices(stop, target, partial, partial_qty)


def close_exit_reason(
    cfg: RiskConfig, position: Position, close: float, signal: Signal | None, now_ms: int
) -> ExitReason | None:
    """Exit decided at a candle close (or timer tick), in priority order; None to hold."""
    if now_ms - position.entry_time_ms >= cfg.max_hold_ms:
        return _TIME_EXIT
    if is_emergency(cfg, position, close):
        return _EMERGENCY
    if cfg.signal_reversal_exit and signal is not None and signal.direction == -int(position.side):
        return ExitReason.SIGNAL_REVERSAL
    return None


def is_emergency(cfg: RiskConfig, position: Position, price: float) -> bool:
    """Unrealised loss reached `emergency_margin_loss` × margin, or price is within the
    liquidation buffer of the liquidation price: get out before the exchange liquidates.

    Asked per position at every processed candle: conversions are read from `as_float`'s memo
    directly (`got(v) or as_float(v)` is `as_float(v)`), the same floats as `float(v)`."""
    got = remembered_float
    e, q, m = position.entry_price, position.quantity, position.margin
    entry = got(e) or as_float(e)
    # −position.unrealized_pnl(price), written out
    loss = -((got(q) or as_float(q)) * (price - entry) * int(position.side))
    if loss >= cfg.emergency_margin_loss * (got(m) or as_float(m)):
        return True
    liq = position.liquidation_price
    if liq is None:
        return False
    buffer = cfg.liquidation_buffer_pct * entry
    if position.side is _LONG:
        return price <= (got(liq) or as_float(liq)) + buffer
    return price >= (got(liq) or as_float(liq)) - buffer


def trailed_stop(cfg: RiskConfig, rules: SymbolRules, position: Position) -> Decimal | None:
    """A better stop from the trailing rule, or None when the stop should stay.

    Trailing starts once the best close has moved `trailing_activation_pct` in favour; the stop
    then sits `trailing_distance_pct` behind the best close. It only ever moves in favour, and by
    at least one tick.
    """
    e = position.entry_price
    entry = remembered_float(e) or as_float(e)  # as_float(e), read from the memo when there
    best = position.best_price
    side = int(position.side)
    if side * (best - entry) / entry < cfg.trailing_activation_pct:
        return None
    raw = best * (1 - side * cfg.trailing_distance_pct)
    # The candidate is `raw` rounded back toward the stop, so it moves the stop by a tick only
    # if `raw` itself lies a tick beyond it. Most closes after activation set no new best and
    # are answered here in floats: a margin of 1e-9 of the magnitudes is far above what their
    # few roundings can get wrong (a NaN or an overflow falls through to the exact test).
    s, t = position.stop_price, rules.tick_size
    stop_f = remembered_float(s) or as_float(s)
    tick_f = remembered_float(t) or as_float(t)
    if raw > 0 and side * (raw - stop_f) < tick_f - _SCREEN * (raw + abs(stop_f) + tick_f):
        return None
    rounding = _DOWN if side > 0 else _UP
    candidate = rules.round_price(Decimal(repr(raw)), rounding)
    if side * (candidate - position.stop_price) < rules.tick_size:
        return None
    return candidate


def breakeven_stop(rules: SymbolRules, position: Position) -> Decimal | None:
    """Stop moved to the entry price after a partial take-profit, if that is an improvement."""
    side = int(position.side)
    rounding = Rounding.UP if side > 0 else Rounding.DOWN
    be = rules.round_price(position.entry_price, rounding)
    if side * (be - position.stop_price) < rules.tick_size:
        return None
    return be


_EARLY = 1e-9  # relative margin so float rounding can only make a wake-up early, never late


def close_wake_levels(
    cfg: RiskConfig, rules: SymbolRules, position: Position
) -> tuple[float, float]:
    """Closes at or beyond these levels could make the engine act on `position` at a candle close
    (emergency exit or a trailing-stop move); a close strictly between them cannot.

    Returns (low, high): act when close <= low or close >= high. Backtests use this to skip candles
    on which nothing can happen; the levels err on the early side.
    """
    side = int(position.side)
    got = remembered_float  # `got(v) or as_float(v)` is `as_float(v)` without a call
    e, q, m, s, t = (
        position.entry_price,
        position.quantity,
        position.margin,
        position.stop_price,
        rules.tick_size,
    )
    entry = got(e) or as_float(e)
    qty = got(q) or as_float(q)
    margin = got(m) or as_float(m)
    emergency = entry - side * cfg.emergency_margin_loss * margin / qty
    liq = position.liquidation_price
    if liq is not None:
        guard = (got(liq) or as_float(liq)) + side * cfg.liquidation_buffer_pct * entry
        # max()/min() written out here and below: the same float (NaN included), no call
        if (guard > emergency) if side > 0 else (guard < emergency):
            emergency = guard
    stop_next = (got(s) or as_float(s)) + side * (got(t) or as_float(t))
    if side > 0:
        trail = entry * (1 + cfg.trailing_activation_pct)
        trailed = stop_next / (1 - cfg.trailing_distance_pct)
        if trailed > trail:
            trail = trailed
        return emergency * (1 + _EARLY), trail * (1 - _EARLY)
    trail = entry * (1 - cfg.trailing_activation_pct)
    trailed = stop_next / (1 + cfg.trailing_distance_pct)
    if trailed < trail:
        trail = trailed
    return trail * (1 + _EARLY), emergency * (1 - _EARLY)
