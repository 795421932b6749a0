"""Causal indicators used by the baseline strategy: the value at bar t uses bars ≤ t only.

Compiled with numba: these loops are the recurrences the incremental (live) form computes one
candle at a time, written the same way so batch and live agree bit for bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from slt.domain.candle import F64
from slt.features.atr import atr_batch


@njit(cache=True)
def _ema(values: F64, alpha: float) -> F64:
    out = np.empty_like(values)
    if values.size == 0:
        return out
    acc = values[0]
    out[0] = acc
    one_minus = 1.0 - alpha
    for i in range(1, values.size):
        acc = alpha * values[i] + one_minus * acc
        out[i] = acc
    return out


def ema(values: F64, period: int) -> F64:
    """Exponential moving average, alpha = 2 / (period + 1), seeded with the first value."""
    return _ema(np.ascontiguousarray(values, dtype=np.float64), 2.0 / (period + 1.0))


def wilder_atr(high: F64, low: F64, close: F64, period: int) -> F64:
    """Wilder's ATR of the true range; NaN until `period` bars have been seen."""
    return atr_batch(high, low, close, period)


@njit(cache=True)
def regime_changes(
    spread: F64, atr_pct: F64, band: float, warmup: int, min_atr: float, max_atr: float
) -> np.ndarray:
    """+1/−1 on bars where the regime (sign of spread beyond ±band×atr_pct, sticky inside the
    band) changes after warm-up with ATR in range; 0 elsewhere."""
    n = spread.size
    out = np.zeros(n, dtype=np.int8)
    regime = 0
    for i in range(n):
        a = atr_pct[i]
        if a != a:
            continue
        new = regime
        if spread[i] > band * a:
            new = 1
        elif spread[i] < -band * a:
            new = -1
        if new != regime and i >= warmup and min_atr <= a <= max_atr:
            out[i] = new
        regime = new
    return out
