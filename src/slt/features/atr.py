"""ATR: Wilder's average true range, the unit every price distance of the schema is scaled by.

Definition (period N = 14 by default):

* true range ``TR[t] = max(high[t] - low[t], |high[t] - close[t-1]|, |low[t] - close[t-1]|)``,
  with ``close[-1] := close[0]`` so that ``TR[0] = high[0] - low[0]``;
* ``ATR[N-1] = mean(TR[0..N-1])`` (summed in bar order, then divided by N);
* ``ATR[t] = (ATR[t-1]·(N-1) + TR[t]) / N`` for t >= N;
* NaN on bars 0..N-2 (warm-up of N-1 bars).

Bars are rows: a gap in the data is one step, and its jump enters the next true range.
Both forms below perform the same floating-point operations in the same order, so they agree
bit for bit (and with `slt.strategy.indicators.wilder_atr`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from slt.domain.candle import F64

ATR_STATE = 3
"""Incremental state: [accumulator, previous close, bars seen]."""


@njit(cache=True)
def atr_batch(high: F64, low: F64, close: F64, period: int) -> F64:
    """ATR over whole arrays (see module docstring); NaN during warm-up."""
    n = close.size
    out = np.full(n, np.nan)
    acc = 0.0
    for i in range(n):
        prev = close[i - 1] if i > 0 else close[0]
        tr = max(high[i] - low[i], max(abs(high[i] - prev), abs(low[i] - prev)))
        if i < period:
            acc += tr
            if i == period - 1:
                acc /= period
                out[i] = acc
        else:
            acc = (acc * (period - 1) + tr) / period
            out[i] = acc
    return out


@njit(cache=True)
def atr_step(st: F64, high: float, low: float, close: float, period: int) -> float:
    """Feed one closed candle to the state `st` (ATR_STATE floats, zeros to start); its ATR."""
    seen = int(st[2])
    prev = st[1] if seen > 0 else close
    tr = max(high - low, max(abs(high - prev), abs(low - prev)))
    acc = st[0]
    value = np.nan
    if seen < period:
        acc += tr
        if seen == period - 1:
            acc /= period
            value = acc
    else:
        acc = (acc * (period - 1) + tr) / period
        value = acc
    st[0] = acc
    st[1] = close
    st[2] = seen + 1
    return value
