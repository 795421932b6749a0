"""Fair value gaps (three-candle imbalances): creation at the third candle, removal on fill.

Definition, with ATR = ATR[t] and k = fvg_min_atr (0.1):

* a **bull FVG** is created at bar t (t >= 2) when ``gap = low[t] - high[t-2]`` satisfies
  ``gap >= k·ATR`` and ``gap > 0``; zone ``[bottom, top] = [high[t-2], low[t]]``.
* a **bear FVG** mirrors it: ``gap = low[t-2] - high[t]``; zone ``[high[t], low[t-2]]``.
* none is created where ATR[t] is NaN (warm-up) or 0. Stamped at t, the bar that completes
  the pattern, never at the middle candle t-1.
* ``size_atr = direction · (top - bottom) / ATR[t_created]``.
* it is **filled** at the first later bar that trades through its midpoint
  ``mid = 0.5·(top + bottom)`` (bull: ``low[j] < mid``; bear: ``high[j] > mid``) and counts
  no more from that bar on; it **expires** after fvg_max_age bars (counts on bars
  created .. created + fvg_max_age - 1); at most fvg_max_count live gaps are kept, creating
  one more **evicts** the oldest live one.

Features at bar t: the live FVG nearest to the close (distance
``|clamp(close, bottom, top) - close|``, ties to the most recently created) gives

    fvg_dist_atr = clip((clamp(close, bottom, top) - close) / ATR[t], -10, 10)   (+ = above)
    fvg_size_atr = its size_atr

both NaN when no FVG is live; fvg_dist_atr also NaN where ATR[t] is NaN or 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from slt.domain.candle import F64, I64

NPt = np.ndarray


class FairValueGaps(NamedTuple):
    """One row per FVG in creation order (module docstring).

    `created`: bar t of creation; `direction`: +1 bull / -1 bear; `top`, `bottom`: zone;
    `size_atr`: signed size in ATR of the creation bar; `filled`: first bar within
    fvg_max_age bars that traded through the midpoint, -1 if none; `end`: first bar the gap
    no longer counts for the features (n if live at the last bar); `end_reason`: 1 filled,
    2 expired, 3 evicted by the count limit, 0 live at the last bar.
    """

    created: I64
    direction: NPt
    top: F64
    bottom: F64
    size_atr: F64
    filled: I64
    end: I64
    end_reason: NPt


@njit(cache=True)
def _lifecycle(
    high: F64,
    low: F64,
    created: I64,
    direction: NPt,
    top: F64,
    bottom: F64,
    max_age: int,
    max_count: int,
) -> tuple[I64, I64, NPt]:
    n = high.size
    m = created.size
    filled = np.full(m, -1, dtype=np.int64)
    end = np.empty(m, dtype=np.int64)
    reason = np.zeros(m, dtype=np.int8)
    for i in range(m):
        c = created[i]
        mid = 0.5 * (top[i] + bottom[i])
        stop = c + max_age
        end[i] = n if stop >= n else stop
        reason[i] = 0 if stop >= n else 2
        for j in range(c + 1, min(stop, n)):
            if low[j] < mid if direction[i] > 0 else high[j] > mid:
                filled[i] = j
                end[i] = j
                reason[i] = 1
                break
    live = np.empty(max_count, dtype=np.int64)
    count = 0
    for i in range(m):
        c = created[i]
        keep = 0
        for q in range(count):
            if end[live[q]] > c:
                live[keep] = live[q]
                keep += 1
        count = keep
        if count == max_count:
            oldest = live[0]
            end[oldest] = c
            reason[oldest] = 3
            for q in range(1, count):
                live[q - 1] = live[q]
            count -= 1
        live[count] = i
        count += 1
    return filled, end, reason


def fair_value_gaps(
    high: F64,
    low: F64,
    atr: F64,
    min_atr: float = 0.1,
    max_age: int = 1440,
    max_count: int = 64,
) -> FairValueGaps:
    """Every FVG of whole arrays with its life cycle (module docstring)."""
    high = np.ascontiguousarray(high, dtype=np.float64)
    low = np.ascontiguousarray(low, dtype=np.float64)
    n = high.size
    if n < 3:
        z = np.zeros(0, dtype=np.int64)
        e = np.zeros(0)
        return FairValueGaps(z, z.astype(np.int8), e, e, e, z, z, z.astype(np.int8))
    a = atr[2:]
    ok = a > 0.0  # False for NaN
    bull_gap = low[2:] - high[:-2]
    bear_gap = low[:-2] - high[2:]
    bull = ok & (bull_gap > 0.0) & (bull_gap >= min_atr * a)
    bear = ok & (bear_gap > 0.0) & (bear_gap >= min_atr * a)
    t = np.nonzero(bull | bear)[0] + 2
    is_bull = bull[t - 2]
    direction = np.where(is_bull, 1, -1).astype(np.int8)
    top = np.where(is_bull, low[t], low[t - 2])
    bottom = np.where(is_bull, high[t - 2], high[t])
    size_atr = direction * (top - bottom) / atr[t]
    filled, end, reason = _lifecycle(high, low, t, direction, top, bottom, max_age, max_count)
    return FairValueGaps(t, direction, top, bottom, size_atr, filled, end, reason)


@njit(cache=True)
def _nearest(
    close: F64,
    atr: F64,
    created: I64,
    top: F64,
    bottom: F64,
    size_atr: F64,
    end: I64,
    cap: float,
) -> tuple[F64, F64]:
    n = close.size
    best = np.full(n, np.inf)
    who = np.full(n, -1, dtype=np.int64)
    for i in range(created.size):
        for j in range(created[i], end[i]):
            c = close[j]
            d = abs(min(max(c, bottom[i]), top[i]) - c)
            if d <= best[j]:
                best[j] = d
                who[j] = i
    dist = np.full(n, np.nan)
    size = np.full(n, np.nan)
    for j in range(n):
        i = who[j]
        if i < 0:
            continue
        size[j] = size_atr[i]
        a = atr[j]
        if a == a and a > 0.0:
            c = close[j]
            x = (min(max(c, bottom[i]), top[i]) - c) / a
            dist[j] = min(max(x, -cap), cap)
    return dist, size


def fvg_features(close: F64, atr: F64, gaps: FairValueGaps, cap: float) -> tuple[F64, F64]:
    """Per-bar (`fvg_dist_atr`, `fvg_size_atr`) from the gaps' life cycles."""
    return _nearest(
        np.ascontiguousarray(close, dtype=np.float64),
        atr,
        gaps.created,
        gaps.top,
        gaps.bottom,
        gaps.size_atr,
        gaps.end,
        cap,
    )


_N, _SEEN, _H1, _L1, _H2, _L2 = 0, 1, 2, 3, 4, 5
_HEAD = 6
_W = 5  # top, bottom, size_atr, created, direction


def fvg_state_size(max_count: int) -> int:
    """Incremental state: [count, bars seen, high/low of t-1 and t-2, gaps × 5 floats]."""
    return _HEAD + _W * max_count


@njit(cache=True)
def fvg_step(
    st: F64,
    t: int,
    high: float,
    low: float,
    close: float,
    atr: float,
    min_atr: float,
    max_age: int,
    max_count: int,
    cap: float,
) -> tuple[float, float]:
    """Feed bar t; return (`fvg_dist_atr`, `fvg_size_atr`)."""
    count = int(st[_N])
    keep = 0
    for i in range(count):
        o = _HEAD + _W * i
        top = st[o]
        bot = st[o + 1]
        mid = 0.5 * (top + bot)
        gone = low < mid if st[o + 4] > 0 else high > mid
        if gone or t - st[o + 3] >= max_age:
            continue
        if keep != i:
            w = _HEAD + _W * keep
            for f in range(_W):
                st[w + f] = st[o + f]
        keep += 1
    count = keep
    if st[_SEEN] >= 2 and atr > 0.0:
        bull_gap = low - st[_H2]
        bear_gap = st[_L2] - high
        direction = 0
        if bull_gap > 0.0 and bull_gap >= min_atr * atr:
            direction, top, bot = 1, low, st[_H2]
        elif bear_gap > 0.0 and bear_gap >= min_atr * atr:
            direction, top, bot = -1, st[_L2], high
        if direction != 0:
            if count == max_count:
                for q in range(_W * (count - 1)):
                    st[_HEAD + q] = st[_HEAD + _W + q]
                count -= 1
            w = _HEAD + _W * count
            st[w] = top
            st[w + 1] = bot
            st[w + 2] = direction * (top - bot) / atr
            st[w + 3] = t
            st[w + 4] = direction
            count += 1
    st[_N] = count
    st[_H2] = st[_H1]
    st[_L2] = st[_L1]
    st[_H1] = high
    st[_L1] = low
    st[_SEEN] += 1
    best = np.inf
    who = -1
    for i in range(count):
        o = _HEAD + _W * i
        d = abs(min(max(close, st[o + 1]), st[o]) - close)
        if d <= best:
            best = d
            who = i
    if who < 0:
        return np.nan, np.nan
    o = _HEAD + _W * who
    size = st[o + 2]
    if not (atr == atr and atr > 0.0):
        return np.nan, size
    x = (min(max(close, st[o + 1]), st[o]) - close) / atr
    return min(max(x, -cap), cap), size
