"""Swing pivots: fractal highs and lows, known only R bars after the pivot.

Definition (left L = 5, right R = 5 by default). A *pivot high* at bar p needs

    high[p] >  high[j]  for every j in p-L .. p-1   (strictly above the L bars before), and
    high[p] >= high[j]  for every j in p+1 .. p+R   (not exceeded by the R bars after).

A *pivot low* mirrors it (``<`` before, ``<=`` after). The pivot is **confirmed at bar p+R**,
the first bar whose close makes it knowable; everything downstream sees it from that bar on
and never at p. The first possible confirmation bar is L+R. One bar can be both a pivot high
and a pivot low (an outside bar). Two pivots of one side are always more than min(L, R) bars
apart (they would otherwise have to be both higher and not higher than each other).

`swings` is the batch form (vectorised numpy comparisons with shifted arrays); `pivot_step` is the
incremental form (a ring of the last L+R+1 bars).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from slt.domain.candle import F64, I64


class Swings(NamedTuple):
    """Per-bar confirmation arrays, indexed by the confirmation bar t (= pivot + right).

    `high_pivot[t]` is the index p of the pivot high confirmed at t, or -1;
    `high_level[t]` is high[p], or NaN. `low_pivot` / `low_level` likewise for lows.
    """

    high_pivot: I64
    high_level: F64
    low_pivot: I64
    low_level: F64


def swings(high: F64, low: F64, left: int = 5, right: int = 5) -> Swings:
    """Fractal pivots of whole arrays, stamped at their confirmation bars (module docstring)."""
    high = np.ascontiguousarray(high, dtype=np.float64)
    low = np.ascontiguousarray(low, dtype=np.float64)
    n = high.size
    high_pivot = np.full(n, -1, dtype=np.int64)
    high_level = np.full(n, np.nan)
    low_pivot = np.full(n, -1, dtype=np.int64)
    low_level = np.full(n, np.nan)
    if n < left + right + 1:
        return Swings(high_pivot, high_level, low_pivot, low_level)
    # candidate pivots p = left .. n-1-right, compared with each shifted neighbour in turn
    stop = n - right
    hc = high[left:stop]
    lc = low[left:stop]
    is_high = np.ones(hc.size, dtype=np.bool_)
    is_low = np.ones(hc.size, dtype=np.bool_)
    for d in range(1, left + 1):
        is_high &= hc > high[left - d : stop - d]
        is_low &= lc < low[left - d : stop - d]
    for d in range(1, right + 1):
        is_high &= hc >= high[left + d : stop + d]
        is_low &= lc <= low[left + d : stop + d]
    hp = np.nonzero(is_high)[0] + left
    lp = np.nonzero(is_low)[0] + left
    high_pivot[hp + right] = hp
    high_level[hp + right] = high[hp]
    low_pivot[lp + right] = lp
    low_level[lp + right] = low[lp]
    return Swings(high_pivot, high_level, low_pivot, low_level)


def pivot_state_size(left: int, right: int) -> int:
    """Incremental state: [bars seen, ring of highs (L+R+1), ring of lows (L+R+1)]."""
    return 1 + 2 * (left + right + 1)


@njit(cache=True)
def pivot_step(st: F64, high: float, low: float, left: int, right: int) -> tuple[float, float]:
    """Feed one candle; return (level of the pivot high, of the pivot low) confirmed at this bar.

    NaN where none. The pivot's index is this bar's index minus `right`.
    """
    w = left + right + 1
    t = int(st[0])
    slot = t % w
    st[1 + slot] = high
    st[1 + w + slot] = low
    st[0] = t + 1
    ph = np.nan
    pl = np.nan
    if t < w - 1:
        return ph, pl
    p = t - right
    hp = st[1 + p % w]
    lp = st[1 + w + p % w]
    is_high = True
    is_low = True
    for j in range(p - left, p):
        k = j % w
        if not (hp > st[1 + k]):
            is_high = False
        if not (lp < st[1 + w + k]):
            is_low = False
    for j in range(p + 1, t + 1):
        k = j % w
        if not (hp >= st[1 + k]):
            is_high = False
        if not (lp <= st[1 + w + k]):
            is_low = False
    if is_high:
        ph = hp
    if is_low:
        pl = lp
    return ph, pl


@njit(cache=True)
def ring_lowest_since(st: F64, left: int, right: int, first: int) -> tuple[float, float, int]:
    """(low, high, index) of the bar with the lowest low among bars first .. last seen.

    Ties go to the latest bar. `first` must be within the ring (at most L+R bars back).
    """
    w = left + right + 1
    last = int(st[0]) - 1
    best_low = np.inf
    best_high = np.nan
    best = -1
    for j in range(first, last + 1):
        k = j % w
        if st[1 + w + k] <= best_low:
            best_low = st[1 + w + k]
            best_high = st[1 + k]
            best = j
    return best_low, best_high, best


@njit(cache=True)
def ring_highest_since(st: F64, left: int, right: int, first: int) -> tuple[float, float, int]:
    """(high, low, index) of the bar with the highest high among bars first .. last seen.

    Ties go to the latest bar.
    """
    w = left + right + 1
    last = int(st[0]) - 1
    best_high = -np.inf
    best_low = np.nan
    best = -1
    for j in range(first, last + 1):
        k = j % w
        if st[1 + k] >= best_high:
            best_high = st[1 + k]
            best_low = st[1 + w + k]
            best = j
    return best_high, best_low, best
