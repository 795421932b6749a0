"""Labels: the net return of the trade the system would really make at each bar, both directions.

The label at bar *t* is the trade decided at *t*'s close: a market entry filled at
`open[t+1]` plus adverse slippage, then managed by the real exit rules of `RiskConfig`
exactly as the simulated venue and the engine manage it:

* stop-loss, take-profit and the partial take-profit rest at the venue and fill intrabar at
  their level, or at the candle's open when the candle gaps through them; when a stop and a
  target both lie inside one candle the stop comes first (the venue's conservative rule);
* after the partial fills the stop moves to the entry price (breakeven), effective from the
  next candle (the venue has already scanned the current one);
* at each close the best close drives the trailing stop: once it is `trailing_activation_pct`
  in favour the stop follows `trailing_distance_pct` behind it, never backwards, by ≥ 1 tick;
* the time exit is decided at the first close at least min(max_hold_ms, H bars) after the
  entry fill and fills at the next open (a market order, as in the engine);
* every fill pays the taker fee and adverse slippage, on the tick grid when a tick is given.

Returns are fractions of the entry notional, unlevered and net of fees: a long stopped out at
1 % with 0.05 % taker fees is about −0.011. Funding is left out on purpose: the data carries no
funding history and the configured constant rate is a placeholder, so booking it would teach
the model the UTC hours of funding settlements rather than anything about price. The emergency
and liquidation exits are left out too: leverage is chosen so that liquidation lies beyond the
stop, and a label is unlevered. Signal-reversal and rotation exits depend on later signals and
the portfolio, which a label at one bar cannot know.

A label that the data does not fully realise (the trade is still open at the last candle, or
the exit's fill candle is missing) is NaN, never a guess: the rows that straddle the end of a
training window are the ones purging must drop, and NaN makes that impossible to forget.
Each label also reports the row of its last fill, so a window can be purged by when a label
was actually known rather than by a worst-case bound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import Decimal

import numpy as np
from numba import njit

from slt.config import FeeConfig, RiskConfig
from slt.domain import CandleSeries
from slt.domain.candle import F64, I64

_EPS = 1e-9
"""Tolerance in tick units: a product that is a whole number of ticks in decimal arithmetic
(entry × (1 − 1 %)) must not be pushed a tick away by binary float error."""


@dataclass(frozen=True, slots=True)
class LabelParams:
    """Everything a label depends on. Fractions are of the entry price; times int ms."""

    horizon_bars: int
    stop_loss_pct: float
    take_profit_pct: float
    partial_take_profit: bool
    partial_at: float
    partial_fraction: float
    breakeven_after_partial: bool
    trailing_activation_pct: float
    trailing_distance_pct: float
    max_hold_ms: int
    taker_rate: float
    slippage_pct: float

    def __post_init__(self) -> None:
        if self.horizon_bars < 1:
            raise ValueError(f"horizon_bars must be ≥ 1, got {self.horizon_bars}")

    @classmethod
    def from_config(cls, risk: RiskConfig, fees: FeeConfig, horizon_bars: int) -> LabelParams:
        """The exits and costs the engine trades with, plus the label horizon H in bars."""
        return cls(
            horizon_bars=horizon_bars,
            stop_loss_pct=risk.stop_loss_pct,
            take_profit_pct=risk.take_profit_pct,
            partial_take_profit=risk.partial_take_profit,
            partial_at=risk.partial_at,
            partial_fraction=risk.partial_fraction,
            breakeven_after_partial=risk.breakeven_after_partial,
            trailing_activation_pct=risk.trailing_activation_pct,
            trailing_distance_pct=risk.trailing_distance_pct,
            max_hold_ms=risk.max_hold_ms,
            taker_rate=fees.taker_rate,
            slippage_pct=fees.slippage_pct,
        )

    def hold_ms(self, interval_ms: int) -> int:
        """The time exit: whichever comes first of `max_hold_ms` and H bars."""
        return min(self.max_hold_ms, self.horizon_bars * interval_ms)

    def span_bars(self, interval_ms: int) -> int:
        """Most rows after *t* a label can read: the time-exit close plus the next open."""
        return -(-self.hold_ms(interval_ms) // interval_ms) + 1

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Labels:
    """Per bar: net return of a long and of a short opened at the next open (NaN when not
    realised), and the row whose candle gave the last fill (−1 where NaN)."""

    long: F64
    short: F64
    long_end: I64
    short_end: I64


def tick_grid(tick: Decimal | None) -> tuple[float, float]:
    """A decimal tick as (units, scale) with tick = units / scale exactly; (0, 1) for none.

    Grid prices are computed as k·units/scale: an exact integer divided by a power of ten is
    the float nearest the decimal price, the same float the venue compares candles against.
    """
    if tick is None:
        return 0.0, 1.0
    if not tick.is_finite() or tick <= 0:
        raise ValueError(f"tick must be a positive decimal, got {tick}")
    exponent = tick.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    scale = 10 ** max(0, -exponent)
    return float(int(tick * scale)), float(scale)


def forward_labels(
    series: CandleSeries, params: LabelParams, *, tick: Decimal | None = None
) -> Labels:
    """Long and short labels for every bar of `series` (see the module doc for the rules)."""
    units, scale = tick_grid(tick)
    hold = params.hold_ms(series.interval_ms)
    cols = (
        np.ascontiguousarray(series.open_time, dtype=np.int64),
        np.ascontiguousarray(series.open, dtype=np.float64),
        np.ascontiguousarray(series.high, dtype=np.float64),
        np.ascontiguousarray(series.low, dtype=np.float64),
        np.ascontiguousarray(series.close, dtype=np.float64),
    )
    out: list[tuple[F64, I64]] = []
    for side in (1, -1):
        ret = np.empty(len(series), dtype=np.float64)
        end = np.empty(len(series), dtype=np.int64)
        label_kernel(
            *cols,
            side,
            series.interval_ms,
            hold,
            params.stop_loss_pct,
            params.take_profit_pct,
            params.partial_take_profit,
            params.partial_at,
            params.partial_fraction,
            params.breakeven_after_partial,
            params.trailing_activation_pct,
            params.trailing_distance_pct,
            params.taker_rate,
            params.slippage_pct,
            units,
            scale,
            ret,
            end,
        )
        out.append((ret, end))
    (long_ret, long_end), (short_ret, short_end) = out
    return Labels(long_ret, short_ret, long_end, short_end)


# The kernel -----------------------------------------------------------------------------------


@njit(cache=True)
def _grid(x: float, up: bool, units: float, scale: float) -> float:
    """`x` onto the tick grid, up (ceil) or down (floor); unchanged without a grid."""
    if units <= 0.0:
        return x
    q = x * scale / units
    k = math.ceil(q - _EPS) if up else math.floor(q + _EPS)
    return k * units / scale


@njit(cache=True)
def _fill(raw: float, side: int, slip: float, units: float, scale: float) -> float:
    """Price of a market fill in direction `side` (+1 buy, −1 sell) at `raw`: slipped
    adversely and rounded against the trader, as the venue does (no rounding without slip)."""
    if slip == 0.0:
        return raw
    return _grid(raw * (1.0 + side * slip), side > 0, units, scale)


@njit(cache=True)
def label_kernel(
    open_time: I64,
    open_: F64,
    high: F64,
    low: F64,
    close: F64,
    side: int,
    step_ms: int,
    hold_ms: int,
    sl: float,
    tp: float,
    partial_on: bool,
    partial_at: float,
    partial_fraction: float,
    breakeven: bool,
    trail_act: float,
    trail_dist: float,
    taker: float,
    slip: float,
    units: float,
    scale: float,
    out_ret: F64,
    out_end: I64,
) -> None:
    """Net return of a `side` trade (+1 long, −1 short) decided at each bar's close.

    Writes `out_ret[t]` (NaN when not realised) and `out_end[t]` (row of the last fill, −1).
    Quantities are per unit of the initial position, so fees and PnL are in price units and
    the return is their sum over the entry price.
    """
    n = open_.shape[0]
    s = float(side)
    for t in range(n):
        out_ret[t] = np.nan
        out_end[t] = -1
        if t + 1 >= n or not np.isfinite(open_[t + 1]):
            continue
        entry = _fill(open_[t + 1], side, slip, units, scale)
        stop = _grid(entry * (1.0 - s * sl), side > 0, units, scale)
        target = _grid(entry * (1.0 + s * tp), side > 0, units, scale)
        level = _grid(entry * (1.0 + s * tp * partial_at), side > 0, units, scale)
        pending_partial = partial_on
        entry_ms = open_time[t + 1]
        remaining = 1.0
        pnl = 0.0
        fees = entry * taker
        best = entry
        exit_at_open = False
        done = False
        k = t + 1
        while k < n:
            op = open_[k]
            if exit_at_open:  # the time exit decided at the previous close fills here
                px = _fill(op, -side, slip, units, scale)
                pnl += remaining * s * (px - entry)
                fees += remaining * px * taker
                done = True
                break
            hi = high[k]
            lo = low[k]
            if (lo <= stop) if side > 0 else (hi >= stop):
                gapped = (op < stop) if side > 0 else (op > stop)
                px = _fill(op if gapped else stop, -side, slip, units, scale)
                pnl += remaining * s * (px - entry)
                fees += remaining * px * taker
                done = True
                break
            partial_now = False
            if pending_partial and ((hi >= level) if side > 0 else (lo <= level)):
                gapped = (op > level) if side > 0 else (op < level)
                px = _fill(op if gapped else level, -side, slip, units, scale)
                pnl += partial_fraction * s * (px - entry)
                fees += partial_fraction * px * taker
                remaining -= partial_fraction
                pending_partial = False
                partial_now = True
            if (hi >= target) if side > 0 else (lo <= target):
                gapped = (op > target) if side > 0 else (op < target)
                px = _fill(op if gapped else target, -side, slip, units, scale)
                pnl += remaining * s * (px - entry)
                fees += remaining * px * taker
                done = True
                break
            if partial_now and breakeven:
                be = _grid(entry, side > 0, units, scale)
                if _improves(s, be, stop, units, scale):
                    stop = be
            c = close[k]
            best = max(best, c) if side > 0 else min(best, c)
            if open_time[k] + step_ms - entry_ms >= hold_ms:
                exit_at_open = True
            elif s * (best - entry) / entry >= trail_act:
                cand = _grid(best * (1.0 - s * trail_dist), side < 0, units, scale)
                if _improves(s, cand, stop, units, scale):
                    stop = cand
            k += 1
        if done:
            out_ret[t] = (pnl - fees) / entry
            out_end[t] = k


@njit(cache=True)
def _improves(s: float, candidate: float, stop: float, units: float, scale: float) -> bool:
    """The engine moves a stop only in favour and by at least one tick."""
    if units <= 0.0:
        return s * (candidate - stop) > 0.0
    return s * (candidate - stop) * scale / units >= 1.0 - _EPS
