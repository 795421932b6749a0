"""Causal indicators used by the baseline strategy: value at bar t uses bars ≤ t only."""

from __future__ import annotations

import numpy as np

from slt.domain.candle import F64


def ema(values: F64, period: int) -> F64:
    """Exponential moving average with alpha = 2 / (period + 1), seeded with the first value.

    A plain loop on purpose: the recurrence is what the incremental form computes, so batch and
    live agree bit for bit.
    """
    alpha = 2.0 / (period + 1.0)
    out = np.empty_like(values)
    if values.size == 0:
        return out
    acc = float(values[0])
    one_minus = 1.0 - alpha
    for i, v in enumerate(values.tolist()):
        acc = alpha * v + one_minus * acc if i else acc
        out[i] = acc
    return out


def wilder_atr(high: F64, low: F64, close: F64, period: int) -> F64:
    """Wilder's ATR of the true range; NaN until `period` bars have been seen."""
    n = close.size
    out = np.full(n, np.nan)
    if n == 0:
        return out
    prev_close = np.concatenate(([close[0]], close[:-1]))
    tr = np.maximum(high - low, np.maximum(np.abs(high - prev_close), np.abs(low - prev_close)))
    acc = 0.0
    for i, v in enumerate(tr.tolist()):
        if i < period:
            acc += v
            if i == period - 1:
                acc /= period
                out[i] = acc
        else:
            acc = (acc * (period - 1) + v) / period
            out[i] = acc
    return out
