"""Baseline: EMA trend with an ATR band. Simple and transparent, so the engine can be tested and
every later model has something honest to beat.

At each close: spread = (EMA_fast − EMA_slow) / close and atr_pct = ATR / close. The regime turns
long when spread > band × atr_pct and short when spread < −band × atr_pct (otherwise it keeps its
previous value). A signal fires only on the bar where the regime changes, and only when
atr_pct lies within [min_atr_pct, max_atr_pct]. Confidence = min(1, |spread| / (2 × atr_pct));
expected_return = confidence × atr_pct × √horizon_bars, the typical move over the holding period
scaled by trend strength — a heuristic ranking, not a forecast.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from slt.config import BaselineConfig
from slt.domain import Candle, CandleSeries, Signal
from slt.domain.candle import F64
from slt.strategy.base import SignalColumns
from slt.strategy.indicators import ema, regime_changes, wilder_atr


@njit(cache=True, error_model="numpy")
def baseline_columns(
    high: F64,
    low: F64,
    close: F64,
    fast_alpha: float,
    slow_alpha: float,
    atr_period: int,
    band: float,
    warmup: int,
    min_atr: float,
    max_atr: float,
    horizon_sqrt: float,
) -> tuple[np.ndarray, F64, F64, F64]:
    """(direction, expected return, confidence, atr_pct) of every bar in one pass.

    Each backtest computes these columns for every symbol, and one indicator at a time they
    take eight passes over the series and as many temporary arrays. This loop performs, per bar,
    the same floating-point operations in the same order as `ema`, `wilder_atr`, the divisions by
    the close, `regime_changes` and the confidence and expected-return arithmetic of
    `EmaAtrBaseline.batch_by_steps` (numba compiles without fastmath, so nothing is reordered or
    fused; `error_model="numpy"` makes a division by zero give inf or NaN as numpy's does), so
    the columns are equal bit for bit. `min(1, x)` is written `1 if x > 1 else x`, which, like
    `np.minimum`, keeps a NaN."""
    n = close.size
    direction = np.zeros(n, dtype=np.int8)
    expected = np.empty(n)
    confidence = np.empty(n)
    atr_pct = np.empty(n)
    fast_keep = 1.0 - fast_alpha
    slow_keep = 1.0 - slow_alpha
    fast = 0.0
    slow = 0.0
    acc = 0.0
    regime = 0
    for i in range(n):
        c = close[i]
        if i == 0:
            fast = c
            slow = c
            prev = c
        else:
            fast = fast_alpha * c + fast_keep * fast
            slow = slow_alpha * c + slow_keep * slow
            prev = close[i - 1]
        tr = max(high[i] - low[i], max(abs(high[i] - prev), abs(low[i] - prev)))
        atr = np.nan
        if i < atr_period:
            acc += tr
            if i == atr_period - 1:
                acc /= atr_period
                atr = acc
        else:
            acc = (acc * (atr_period - 1) + tr) / atr_period
            atr = acc
        a = atr / c
        spread = (fast - slow) / c
        atr_pct[i] = a
        if a == a:
            new = regime
            if spread > band * a:
                new = 1
            elif spread < -band * a:
                new = -1
            if new != regime and i >= warmup and min_atr <= a <= max_atr:
                direction[i] = new
            regime = new
        x = abs(spread) / (2.0 * a)
        conf = 1.0 if x > 1.0 else x
        confidence[i] = conf
        expected[i] = conf * a * horizon_sqrt
    return direction, expected, confidence, atr_pct


class EmaAtrBaseline:
    name = "baseline-ema-atr"

    def __init__(self, cfg: BaselineConfig, horizon_bars: int = 120) -> None:
        self.cfg = cfg
        self.horizon_sqrt = math.sqrt(max(1, horizon_bars))

    @property
    def warmup_bars(self) -> int:
        return max(self.cfg.slow, self.cfg.atr_period)

    def batch(self, series: CandleSeries) -> SignalColumns:
        """Every column in one compiled pass (`baseline_columns`); `batch_by_steps` is the same
        computation one indicator at a time."""
        cfg = self.cfg
        direction, expected, confidence, atr_pct = baseline_columns(
            np.ascontiguousarray(series.high, dtype=np.float64),
            np.ascontiguousarray(series.low, dtype=np.float64),
            np.ascontiguousarray(series.close, dtype=np.float64),
            2.0 / (cfg.fast + 1.0),
            2.0 / (cfg.slow + 1.0),
            cfg.atr_period,
            cfg.band_atr,
            self.warmup_bars,
            cfg.min_atr_pct,
            cfg.max_atr_pct,
            self.horizon_sqrt,
        )
        return SignalColumns(direction, expected, confidence, atr_pct)

    def batch_by_steps(self, series: CandleSeries) -> SignalColumns:
        """`batch` written as the composition of the indicators (EMAs, Wilder ATR, regime
        changes) and array arithmetic; tests hold the fused pass to it bit for bit."""
        cfg = self.cfg
        close = series.close
        fast = ema(close, cfg.fast)
        slow = ema(close, cfg.slow)
        atr_pct = wilder_atr(series.high, series.low, close, cfg.atr_period) / close
        spread = (fast - slow) / close
        direction = regime_changes(
            spread, atr_pct, cfg.band_atr, self.warmup_bars, cfg.min_atr_pct, cfg.max_atr_pct
        )
        confidence = np.minimum(1.0, np.abs(spread) / (2.0 * atr_pct))
        expected = confidence * atr_pct * self.horizon_sqrt
        return SignalColumns(direction, expected, confidence, atr_pct)

    def incremental(self, symbol: str) -> BaselineState:
        return BaselineState(symbol, self)


def _regime(previous: int, spread: float, band: float) -> int:
    if spread > band:
        return 1
    if spread < -band:
        return -1
    return previous


class BaselineState:
    """The same computation, one closed candle at a time (live mode)."""

    def __init__(self, symbol: str, strategy: EmaAtrBaseline) -> None:
        self.symbol = symbol
        self.s = strategy
        cfg = strategy.cfg
        self.a_fast = 2.0 / (cfg.fast + 1.0)
        self.a_slow = 2.0 / (cfg.slow + 1.0)
        self.fast = 0.0
        self.slow = 0.0
        self.atr_acc = 0.0
        self.prev_close = 0.0
        self.i = 0
        self.regime = 0

    def update(self, candle: Candle) -> Signal | None:
        cfg = self.s.cfg
        c, i = candle.close, self.i
        if i == 0:
            self.fast = self.slow = c
            prev = c
        else:
            self.fast = self.a_fast * c + (1.0 - self.a_fast) * self.fast
            self.slow = self.a_slow * c + (1.0 - self.a_slow) * self.slow
            prev = self.prev_close
        tr = max(candle.high - candle.low, max(abs(candle.high - prev), abs(candle.low - prev)))
        p = cfg.atr_period
        atr = math.nan
        if i < p:
            self.atr_acc += tr
            if i == p - 1:
                self.atr_acc /= p
                atr = self.atr_acc
        else:
            self.atr_acc = (self.atr_acc * (p - 1) + tr) / p
            atr = self.atr_acc
        self.prev_close = c
        self.i += 1
        if atr != atr:
            return None
        a = atr / c
        spread = (self.fast - self.slow) / c
        new = _regime(self.regime, spread, cfg.band_atr * a)
        fire = (
            new != self.regime
            and i >= self.s.warmup_bars
            and cfg.min_atr_pct <= a <= cfg.max_atr_pct
        )
        self.regime = new
        if not fire:
            return None
        conf = min(1.0, abs(spread) / (2.0 * a))
        return Signal(
            self.symbol,
            candle.close_time + 1,
            new,
            conf * a * self.s.horizon_sqrt,
            conf,
            a,
            self.s.name,
        )
