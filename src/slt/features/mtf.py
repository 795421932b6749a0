"""Multi-timeframe trend from higher-timeframe candles resampled causally from the base.

Resampling (`resample`). A higher-timeframe (HTF) candle of period P covers the base candles
whose open time lies in ``[T, T+P)``, with T a multiple of P since the Unix epoch (UTC, as
Binance aligns them). It is built from the base candles *present*: open of the first, max
high, min low, close of the last, summed volume; a gap inside the bucket just leaves those
minutes out, and a bucket with no candle at all produces no HTF candle (no filling).

Visibility. The HTF candle is complete, and may be used, from the close of the first base
candle whose close time ``open_time + base - 1`` is >= ``T + P - 1``: normally the base
candle with open time ``T + P - base`` (its close completes the bucket). When that candle is
missing, the HTF candle becomes visible at the next base candle present (the first of a
later bucket): that is the first close at which we know the bucket is over. Joining on the
HTF open time instead would leak up to P - 1 minutes of the future. A bucket still open at
the end of the data is not visible.

Feature ``mtf_trend``: for each HTF in `mtf_intervals` (5m, 15m, 1h), EMA20 and EMA50 of the
closes of its completed candles (alpha = 2/(n+1), seeded with the first close, one update
per completed candle), and ``sign(EMA20 - EMA50)`` of the latest visible candle; NaN until
that HTF has ema_slow (50) completed candles. ``mtf_trend`` is the mean of the signs, NaN
if any is NaN. Daily context is deliberately not part of schema v4 (FEATURES.md reserves it
for a later schema version).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from slt.domain.candle import F64, I64


class Resampled(NamedTuple):
    """HTF candles, one row per non-empty bucket, in time order.

    `first` / `last`: index range of the base candles in the bucket (inclusive);
    `visible`: index of the base candle at whose close the HTF candle becomes usable, or n
    (the number of base candles) when it is not complete yet.
    """

    open_time: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    first: I64
    last: I64
    visible: I64


def _buckets(ot: I64, period_ms: int, base_ms: int) -> tuple[I64, I64, I64, I64]:
    """(bucket start, first row, last row, visible row) of every non-empty bucket."""
    n = ot.size
    bucket = ot // period_ms * period_ms
    first = np.concatenate([[0], np.flatnonzero(np.diff(bucket)) + 1]).astype(np.int64)
    if n == 0:
        first = first[:0]
    last = np.concatenate([first[1:] - 1, [n - 1]]).astype(np.int64)[: first.size]
    start = bucket[first]
    # complete once a base candle's close time (open + base - 1) reaches T + P - 1
    complete = ot[last] + base_ms >= start + period_ms
    visible = np.where(complete, last, last + 1)
    return start, first, last, visible


def resample(
    open_time: I64,
    open_: F64,
    high: F64,
    low: F64,
    close: F64,
    volume: F64,
    period_ms: int,
    base_ms: int = 60_000,
) -> Resampled:
    """Causal OHLCV resampling of sorted base candles (module docstring). Pure numpy."""
    ot = np.asarray(open_time, dtype=np.int64)
    start, first, last, visible = _buckets(ot, period_ms, base_ms)
    return Resampled(
        start,
        np.asarray(open_, dtype=np.float64)[first],
        np.maximum.reduceat(np.asarray(high, dtype=np.float64), first),
        np.minimum.reduceat(np.asarray(low, dtype=np.float64), first),
        np.asarray(close, dtype=np.float64)[last],
        np.add.reduceat(np.asarray(volume, dtype=np.float64), first),
        first,
        last,
        visible,
    )


@njit(cache=True)
def _htf_signs(close: F64, fast: int, slow: int) -> F64:
    """sign(EMA_fast - EMA_slow) per HTF candle; NaN before `slow` candles."""
    m = close.size
    out = np.full(m, np.nan)
    af = 2.0 / (fast + 1.0)
    a_s = 2.0 / (slow + 1.0)
    ef = es = 0.0
    for g in range(m):
        x = close[g]
        if g == 0:
            ef = x
            es = x
        else:
            ef = af * x + (1.0 - af) * ef
            es = a_s * x + (1.0 - a_s) * es
        if g + 1 >= slow:
            d = ef - es
            out[g] = 1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0)
    return out


@njit(cache=True)
def _on_base(n: int, visible: I64, values: F64) -> F64:
    """Per base bar t: values[g] of the latest HTF candle g with visible[g] <= t, else NaN."""
    out = np.full(n, np.nan)
    m = visible.size
    for g in range(m):
        start = visible[g]
        stop = visible[g + 1] if g + 1 < m else n
        for t in range(start, min(stop, n)):
            out[t] = values[g]
    return out


def htf_sign_on_base(
    open_time: I64, close: F64, period_ms: int, base_ms: int, fast: int, slow: int
) -> F64:
    """Per base bar: the EMA sign of the latest visible HTF candle of period `period_ms`."""
    n = open_time.size
    if n == 0:
        return np.zeros(0)
    _, _, last, visible = _buckets(np.asarray(open_time, dtype=np.int64), period_ms, base_ms)
    htf_close = np.ascontiguousarray(np.asarray(close, dtype=np.float64)[last])
    return _on_base(n, visible, _htf_signs(htf_close, fast, slow))


def mtf_trend_batch(
    open_time: I64, close: F64, periods_ms: tuple[int, ...], base_ms: int, fast: int, slow: int
) -> F64:
    """`mtf_trend` of whole arrays (module docstring)."""
    total = np.zeros(open_time.size)
    for period in periods_ms:
        total = total + htf_sign_on_base(open_time, close, period, base_ms, fast, slow)
    return total / len(periods_ms)


MTF_SLOTS = 6
"""Incremental state per HTF: [open bucket start (NaN when none), its latest close,
completed candles, EMA fast, EMA slow, sign of the latest completed candle (NaN)]."""


def mtf_state_init(n_periods: int) -> F64:
    """A fresh incremental state for `n_periods` higher timeframes."""
    st = np.zeros(MTF_SLOTS * n_periods)
    for i in range(n_periods):
        st[MTF_SLOTS * i] = np.nan
        st[MTF_SLOTS * i + 5] = np.nan
    return st


@njit(cache=True)
def _complete(st: F64, o: int, x: float, fast: int, slow: int) -> None:
    count = int(st[o + 2])
    if count == 0:
        st[o + 3] = x
        st[o + 4] = x
    else:
        af = 2.0 / (fast + 1.0)
        a_s = 2.0 / (slow + 1.0)
        st[o + 3] = af * x + (1.0 - af) * st[o + 3]
        st[o + 4] = a_s * x + (1.0 - a_s) * st[o + 4]
    count += 1
    st[o + 2] = count
    if count >= slow:
        d = st[o + 3] - st[o + 4]
        st[o + 5] = 1.0 if d > 0.0 else (-1.0 if d < 0.0 else 0.0)
    st[o] = np.nan


@njit(cache=True)
def mtf_step(
    st: F64, open_time: int, close: float, periods: I64, base_ms: int, fast: int, slow: int
) -> float:
    """Feed one base candle; return `mtf_trend` at its close."""
    total = 0.0
    for i in range(periods.size):
        p = periods[i]
        o = MTF_SLOTS * i
        b = open_time // p * p
        if st[o] == st[o] and st[o] != b:
            _complete(st, o, st[o + 1], fast, slow)
        if st[o] != st[o]:
            st[o] = b
        st[o + 1] = close
        if open_time + base_ms >= b + p:
            _complete(st, o, close, fast, slow)
        total += st[o + 5]
    return total / periods.size
