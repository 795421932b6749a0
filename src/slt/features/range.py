"""Dealing range: premium/discount position and swing trend, from the latest swing levels.

With H1, H2 the two latest confirmed swing highs and S1, S2 the two latest confirmed swing
lows after bar t (pivots confirmed at t included, see structure.py):

* ``pd_position = clip((close - S1) / (H1 - S1), -0.5, 1.5)``: above 0.5 is premium, below
  0.5 discount, outside [0, 1] beyond the range. NaN until both H1 and S1 exist, and NaN when
  ``H1 <= S1`` (an inverted range has no premium or discount half).
* ``swing_trend = +1`` if H1 > H2 and S1 > S2 (higher highs and higher lows), -1 if
  H1 < H2 and S1 < S2, else 0. NaN until two highs and two lows are confirmed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from slt.domain.candle import F64


def pd_position(close: F64, h1: F64, s1: F64, lo: float, hi: float) -> F64:
    """Batch premium/discount position (module docstring)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        span = h1 - s1
        raw = (close - s1) / span
        out = np.minimum(np.maximum(raw, lo), hi)
    out[~(span > 0.0)] = np.nan
    return out


def swing_trend(h1: F64, h2: F64, s1: F64, s2: F64) -> F64:
    """Batch swing trend (module docstring)."""
    up = (h1 > h2) & (s1 > s2)
    down = (h1 < h2) & (s1 < s2)
    out = up.astype(np.float64) - down.astype(np.float64)
    out[np.isnan(h2) | np.isnan(s2)] = np.nan
    return out


@njit(cache=True)
def pd_position_value(close: float, h1: float, s1: float, lo: float, hi: float) -> float:
    """Incremental premium/discount position of one bar."""
    span = h1 - s1
    if not (span > 0.0):
        return np.nan
    return min(max((close - s1) / span, lo), hi)


@njit(cache=True)
def swing_trend_value(h1: float, h2: float, s1: float, s2: float) -> float:
    """Incremental swing trend of one bar."""
    if h2 != h2 or s2 != s2:
        return np.nan
    if h1 > h2 and s1 > s2:
        return 1.0
    if h1 < h2 and s1 < s2:
        return -1.0
    return 0.0
