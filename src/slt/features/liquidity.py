"""Liquidity pools and sweeps: resting stops beyond untaken swing levels, and raids on them.

Definition (pivots from swings.py, pool depth D = sweep_levels = 5, window W = 10):

* every confirmed swing high is a *buy-side level* from its confirmation bar p+R on, until
  it is **taken**: the first later bar k with ``high[k] > level`` (traded through, whether
  or not it closes beyond). Swing lows mirror it (``low[k] < level``).
* the **pool** at bar k is, per side, the D most recently confirmed levels that are untaken
  at the start of bar k (confirmed at k-1 or earlier; a pivot confirmed at k joins after k).
* bar k **sweeps** the highs (a bear sweep, direction -1) when it takes a pool level and
  closes back below it: ``high[k] > level and close[k] < level``. Lows mirror it (bull
  sweep, +1). A bar sweeping both sides records direction 0.
* ``sweep_recent[t] = direction · (1 - (t - k) / W)`` for the latest sweep bar k with
  ``t - k < W``, else 0. No warm-up: 0 until a sweep happens.

Why a stack: untaken highs are non-increasing in confirmation order (a later, higher pivot
would have taken the older level, and a pivot within R bars after another is not above it).
So a bar takes exactly the newest untaken levels below its high: the incremental form pops
them from the top of a stack (amortised O(1)), and the pool is the top D entries. The batch
form computes each level's taken bar as its pivot's next strictly greater high and ranks the
levels taken on one bar from the newest; both read "the D latest untaken" literally, with no
memory limit (the incremental stacks grow when needed).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from slt.domain.candle import F64, I64
from slt.features.swings import Swings

NPt = np.ndarray


class Liquidity(NamedTuple):
    """Levels (one row per confirmed pivot, highs first then lows, each in pivot order) and
    per-bar sweeps.

    `side`: +1 buy-side (swing high) / -1 sell-side (swing low); `pivot`, `confirmed`,
    `level`; `taken`: bar that traded through it, -1 if never; `swept`: taken by a sweep
    while in the pool. Per bar: `sweep_high[k]` / `sweep_low[k]` flags and `sweep[k]`
    direction (+1 bull, -1 bear, 0 none or both).
    """

    side: NPt
    pivot: I64
    confirmed: I64
    level: F64
    taken: I64
    swept: NPt
    sweep_high: NPt
    sweep_low: NPt
    sweep: NPt


@njit(cache=True)
def _next_beyond(x: F64, sign: float) -> I64:
    """First j > i with sign·x[j] > sign·x[i], or -1 (monotonic stack, O(n))."""
    n = x.size
    out = np.full(n, -1, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    top = 0
    for j in range(n):
        v = sign * x[j]
        while top > 0 and sign * x[stack[top - 1]] < v:
            top -= 1
            out[stack[top]] = j
        stack[top] = j
        top += 1
    return out


@njit(cache=True)
def _rank_sweeps(
    close: F64, pivots: I64, levels: F64, taken: I64, depth: int, highs: bool, flags: NPt
) -> NPt:
    n = close.size
    seen = np.zeros(n, dtype=np.int64)
    swept = np.zeros(pivots.size, dtype=np.bool_)
    for i in range(pivots.size - 1, -1, -1):  # newest first
        k = taken[i]
        if k < 0:
            continue
        rank = seen[k]
        seen[k] += 1
        if rank < depth and (close[k] < levels[i] if highs else close[k] > levels[i]):
            swept[i] = True
            flags[k] = True
    return swept


def liquidity(high: F64, low: F64, close: F64, piv: Swings, depth: int = 5) -> Liquidity:
    """Levels, their taking and the sweeps of whole arrays (module docstring)."""
    high = np.ascontiguousarray(high, dtype=np.float64)
    low = np.ascontiguousarray(low, dtype=np.float64)
    close = np.ascontiguousarray(close, dtype=np.float64)
    n = close.size
    sweep_high = np.zeros(n, dtype=np.bool_)
    sweep_low = np.zeros(n, dtype=np.bool_)
    hc = np.nonzero(piv.high_pivot >= 0)[0]
    lc = np.nonzero(piv.low_pivot >= 0)[0]
    hp = piv.high_pivot[hc]
    lp = piv.low_pivot[lc]
    h_taken = _next_beyond(high, 1.0)[hp]
    l_taken = _next_beyond(low, -1.0)[lp]
    h_level = high[hp]
    l_level = low[lp]
    h_swept = _rank_sweeps(close, hp, h_level, h_taken, depth, True, sweep_high)
    l_swept = _rank_sweeps(close, lp, l_level, l_taken, depth, False, sweep_low)
    sweep = sweep_low.astype(np.int8) - sweep_high.astype(np.int8)
    side = np.concatenate([np.ones(hp.size, np.int8), -np.ones(lp.size, np.int8)])
    return Liquidity(
        side,
        np.concatenate([hp, lp]),
        np.concatenate([hc, lc]),
        np.concatenate([h_level, l_level]),
        np.concatenate([h_taken, l_taken]),
        np.concatenate([h_swept, l_swept]),
        sweep_high,
        sweep_low,
        sweep,
    )


@njit(cache=True)
def _recent(sweep_high: NPt, sweep_low: NPt, window: int) -> F64:
    n = sweep_high.size
    out = np.zeros(n)
    last = -1
    direction = 0
    for t in range(n):
        if sweep_high[t] or sweep_low[t]:
            last = t
            direction = int(sweep_low[t]) - int(sweep_high[t])
        if last >= 0 and t - last < window:
            out[t] = direction * (1.0 - (t - last) / window)
    return out


def sweep_recent(liq: Liquidity, window: int) -> F64:
    """Per-bar `sweep_recent` from the sweep flags (module docstring)."""
    return _recent(liq.sweep_high, liq.sweep_low, window)


LIQ_STATE = 4
"""Incremental scalars: [stack size highs, stack size lows, last sweep bar (NaN), its direction].
The stacks themselves live in a separate growable array of shape (2, capacity)."""


def liq_state_init() -> F64:
    """A fresh incremental liquidity state."""
    return np.array([0.0, 0.0, np.nan, 0.0])


@njit(cache=True)
def sweep_step(
    st: F64, stk: F64, t: int, high: float, low: float, close: float, depth: int
) -> None:
    """Take the levels bar t trades through and record a sweep (levels confirmed <= t-1)."""
    n_hi = int(st[0])
    bear = False
    rank = 0
    while n_hi > 0 and stk[0, n_hi - 1] < high:
        if rank < depth and close < stk[0, n_hi - 1]:
            bear = True
        n_hi -= 1
        rank += 1
    n_lo = int(st[1])
    bull = False
    rank = 0
    while n_lo > 0 and stk[1, n_lo - 1] > low:
        if rank < depth and close > stk[1, n_lo - 1]:
            bull = True
        n_lo -= 1
        rank += 1
    st[0] = n_hi
    st[1] = n_lo
    if bear or bull:
        st[2] = t
        st[3] = int(bull) - int(bear)


@njit(cache=True)
def push_levels(st: F64, stk: F64, ph: float, pl: float) -> None:
    """Add the levels confirmed at this bar (NaN for none); the caller guarantees room."""
    if ph == ph:
        k = int(st[0])
        stk[0, k] = ph
        st[0] = k + 1
    if pl == pl:
        k = int(st[1])
        stk[1, k] = pl
        st[1] = k + 1


@njit(cache=True)
def sweep_value(st: F64, t: int, window: int) -> float:
    """`sweep_recent` at bar t."""
    k = st[2]
    if k == k and t - k < window:
        return float(st[3] * (1.0 - (t - k) / window))
    return 0.0
