"""Market structure: the swing state, trend, and break events (BOS / CHoCH).

State after bar t (pivots as in swings.py, confirmed R bars late):

* H: the latest confirmed swing high, *active* until broken; a newer confirmation replaces
  it (and re-activates H) even when it is lower. S mirrors it with swing lows. A break
  clears the slot: after a bull break no bull break can happen until a new high confirms.
* H1, H2: the two latest confirmed swing highs (broken or not); S1, S2 the two latest lows.
* trend in {-1, 0, +1}, 0 until the first break.

Events at bar t, tested with the state of bar t-1 (so H was confirmed at t-1 or earlier),
*before* the pivots confirmed at t are added:

* bull break when ``close[t] > H``: event +1 (BOS) if trend was +1, else +2 (CHoCH);
  trend := +1; H is broken (inactive).
* bear break when ``close[t] < S``: event -1 (BOS) if trend was -1, else -2 (CHoCH);
  trend := -1; S is broken.

A pivot confirmed at t can never be broken at t or between its pivot and t (every close in
between is <= high[p]), so "tested before the confirmations" loses no event. Both breaks on
one bar would need an active S above an active H, which the pivot rules exclude; the code
still tests both, bull first, and then records the bear event.

`structure` is the batch form; `break_step` + `confirm_step` the incremental form. The
incremental state also tracks, for the active H, the candle with the lowest low since its
pivot (the order block a bull break would create), and the mirror for S.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from slt.domain.candle import F64, I64
from slt.features.swings import Swings, ring_highest_since, ring_lowest_since, swings

NPt = np.ndarray


class Structure(NamedTuple):
    """Per-bar arrays of the structure state machine (module docstring).

    `event[t]`: +1 BOS bull, +2 CHoCH bull, -1 BOS bear, -2 CHoCH bear, 0 none.
    `broken_level[t]` / `broken_pivot[t]`: the level and pivot index broken at t (NaN / -1).
    `trend`, `h1`, `h2`, `s1`, `s2`: the state after bar t (NaN where not yet known).
    """

    event: NPt
    broken_level: F64
    broken_pivot: I64
    trend: NPt
    h1: F64
    h2: F64
    s1: F64
    s2: F64


@njit(cache=True)
def _structure(
    close: F64, high_pivot: I64, high_level: F64, low_pivot: I64, low_level: F64
) -> tuple[NPt, F64, I64, NPt, F64, F64, F64, F64]:
    n = close.size
    event = np.zeros(n, dtype=np.int8)
    level = np.full(n, np.nan)
    pivot = np.full(n, -1, dtype=np.int64)
    trend_out = np.zeros(n, dtype=np.int8)
    h1o = np.full(n, np.nan)
    h2o = np.full(n, np.nan)
    s1o = np.full(n, np.nan)
    s2o = np.full(n, np.nan)
    h = s = h1 = h2 = s1 = s2 = np.nan
    hp = sp = -1
    h_on = s_on = False
    trend = 0
    for t in range(n):
        if h_on and close[t] > h:
            event[t] = 1 if trend == 1 else 2
            level[t] = h
            pivot[t] = hp
            trend = 1
            h_on = False
        if s_on and close[t] < s:
            event[t] = -1 if trend == -1 else -2
            level[t] = s
            pivot[t] = sp
            trend = -1
            s_on = False
        if high_pivot[t] >= 0:
            h2 = h1
            h1 = high_level[t]
            h = h1
            hp = high_pivot[t]
            h_on = True
        if low_pivot[t] >= 0:
            s2 = s1
            s1 = low_level[t]
            s = s1
            sp = low_pivot[t]
            s_on = True
        trend_out[t] = trend
        h1o[t] = h1
        h2o[t] = h2
        s1o[t] = s1
        s2o[t] = s2
    return event, level, pivot, trend_out, h1o, h2o, s1o, s2o


def structure(
    high: F64,
    low: F64,
    close: F64,
    left: int = 5,
    right: int = 5,
    piv: Swings | None = None,
) -> Structure:
    """Structure state and break events of whole arrays; `piv` reuses computed swings."""
    if piv is None:
        piv = swings(high, low, left, right)
    close = np.ascontiguousarray(close, dtype=np.float64)
    return Structure(*_structure(close, *piv))


# incremental state slots
_H, _HP, _HON, _S, _SP, _SON = 0, 1, 2, 3, 4, 5
_H1, _H2, _S1, _S2, _TREND, _EV, _EVBAR = 6, 7, 8, 9, 10, 11, 12
_BL_LOW, _BL_HIGH, _BR_HIGH, _BR_LOW = 13, 14, 15, 16
STRUCT_STATE = 17


def struct_state_init() -> F64:
    """A fresh incremental structure state: nothing confirmed, trend 0, no event."""
    st = np.full(STRUCT_STATE, np.nan)
    st[_HON] = st[_SON] = st[_TREND] = st[_EV] = 0.0
    return st


@njit(cache=True)
def break_step(
    st: F64, t: int, high: float, low: float, close: float
) -> tuple[int, float, float, float, float]:
    """Test bar t's close against the active H and S; extend the order-block candidates.

    Returns (event, bull block top, bull block bottom, bear block top, bear block bottom);
    the block bounds are NaN unless that side broke. The bull block is the candle with the
    lowest low strictly between the broken pivot and t (ties: the latest such candle).
    """
    ev = 0
    bull_top = bull_bot = bear_top = bear_bot = np.nan
    trend = int(st[_TREND])
    if st[_HON] != 0.0 and close > st[_H]:
        ev = 1 if trend == 1 else 2
        trend = 1
        st[_HON] = 0.0
        bull_top = st[_BL_HIGH]
        bull_bot = st[_BL_LOW]
    if st[_SON] != 0.0 and close < st[_S]:
        ev = -1 if trend == -1 else -2
        trend = -1
        st[_SON] = 0.0
        bear_top = st[_BR_HIGH]
        bear_bot = st[_BR_LOW]
    st[_TREND] = trend
    if ev != 0:
        st[_EV] = ev
        st[_EVBAR] = t
    if st[_HON] != 0.0 and low <= st[_BL_LOW]:
        st[_BL_LOW] = low
        st[_BL_HIGH] = high
    if st[_SON] != 0.0 and high >= st[_BR_HIGH]:
        st[_BR_HIGH] = high
        st[_BR_LOW] = low
    return ev, bull_top, bull_bot, bear_top, bear_bot


@njit(cache=True)
def confirm_step(st: F64, piv_st: F64, t: int, ph: float, pl: float, left: int, right: int) -> None:
    """Add the pivots confirmed at bar t (levels `ph`, `pl`, NaN for none) to the state."""
    if ph == ph:
        st[_H2] = st[_H1]
        st[_H1] = ph
        st[_H] = ph
        st[_HP] = t - right
        st[_HON] = 1.0
        lo, hi, _ = ring_lowest_since(piv_st, left, right, t - right + 1)
        st[_BL_LOW] = lo
        st[_BL_HIGH] = hi
    if pl == pl:
        st[_S2] = st[_S1]
        st[_S1] = pl
        st[_S] = pl
        st[_SP] = t - right
        st[_SON] = 1.0
        hi, lo, _ = ring_highest_since(piv_st, left, right, t - right + 1)
        st[_BR_HIGH] = hi
        st[_BR_LOW] = lo


@njit(cache=True)
def struct_levels(st: F64) -> tuple[float, float, float, float, int, int, float]:
    """(H1, H2, S1, S2, trend, last event, bar of last event or NaN)."""
    return st[_H1], st[_H2], st[_S1], st[_S2], int(st[_TREND]), int(st[_EV]), st[_EVBAR]
