"""Volatility, volume and momentum features: `atr_pct`, `vol_z`, `ret_k_norm`.

* ``atr_pct = ATR[t] / close[t]``; NaN during the ATR warm-up (first atr_period - 1 bars).
* ``vol_z``: with ``x = log1p(volume)`` over the window of the last V = 60 bars, bar t
  included, ``mean = sum(x) / V`` and ``std = sqrt(sum((x - mean)^2) / V)`` (population),
  ``vol_z = clip((x[t] - mean) / std, -5, 5)``; 0 when ``std < 1e-9`` (a flat window);
  NaN on the first V - 1 bars.
* ``ret_k_norm = (close[t] - close[t-k]) / (ATR[t] · sqrt(k))``, k = 15; NaN for t < k
  and where ATR[t] is NaN or 0.

Both forms sum in bar order with the same compiled operations, so they agree bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from slt.domain.candle import F64

FLAT_STD = 1e-9


@njit(cache=True)
def window_z(buf: F64, start: int, w: int, last: float, clip: float) -> float:
    """Clipped z of `last` among the w contiguous values buf[start .. start+w-1].

    Sums run in window order over four interleaved partial sums (element i into sum i % 4,
    then (s0 + s1) + (s2 + s3)): four independent additions per step instead of one long
    dependency chain, and the same operations whichever buffer holds the window.
    """
    a0 = a1 = a2 = a3 = 0.0
    stop = start + w
    k = start
    while k + 4 <= stop:
        a0 += buf[k]
        a1 += buf[k + 1]
        a2 += buf[k + 2]
        a3 += buf[k + 3]
        k += 4
    if k < stop:
        a0 += buf[k]
    if k + 1 < stop:
        a1 += buf[k + 1]
    if k + 2 < stop:
        a2 += buf[k + 2]
    mean = ((a0 + a1) + (a2 + a3)) / w
    a0 = a1 = a2 = a3 = 0.0
    k = start
    while k + 4 <= stop:
        d0 = buf[k] - mean
        d1 = buf[k + 1] - mean
        d2 = buf[k + 2] - mean
        d3 = buf[k + 3] - mean
        a0 += d0 * d0
        a1 += d1 * d1
        a2 += d2 * d2
        a3 += d3 * d3
        k += 4
    if k < stop:
        d0 = buf[k] - mean
        a0 += d0 * d0
    if k + 1 < stop:
        d1 = buf[k + 1] - mean
        a1 += d1 * d1
    if k + 2 < stop:
        d2 = buf[k + 2] - mean
        a2 += d2 * d2
    std = math.sqrt(((a0 + a1) + (a2 + a3)) / w)
    if std < FLAT_STD:
        return 0.0
    return min(max((last - mean) / std, -clip), clip)


@njit(cache=True)
def vol_z_batch(volume: F64, window: int, clip: float) -> F64:
    """`vol_z` of whole arrays (module docstring)."""
    n = volume.size
    x = np.empty(n)
    for i in range(n):
        x[i] = math.log1p(volume[i])
    out = np.full(n, np.nan)
    for t in range(window - 1, n):
        out[t] = window_z(x, t - window + 1, window, x[t], clip)
    return out


@njit(cache=True)
def ret_k_norm_batch(close: F64, atr: F64, k: int) -> F64:
    """`ret_k_norm` of whole arrays (module docstring)."""
    n = close.size
    out = np.full(n, np.nan)
    root = math.sqrt(k)
    for t in range(k, n):
        a = atr[t]
        if a == a and a > 0.0:
            out[t] = (close[t] - close[t - k]) / (a * root)
    return out


def basic_state_size(vol_window: int, ret_k: int) -> int:
    """Incremental state: [bars seen, log1p(volume) ring (2V), close ring (k + 1)].

    The volume ring is written twice (slots i and i + V), so the window of the last V values
    is always contiguous: slots (t+1) % V .. (t+1) % V + V - 1.
    """
    return 1 + 2 * vol_window + ret_k + 1


@njit(cache=True)
def basic_step(
    st: F64, close: float, volume: float, atr: float, window: int, k: int, clip: float
) -> tuple[float, float, float]:
    """Feed one bar; return (`atr_pct`, `vol_z`, `ret_k_norm`)."""
    t = int(st[0])
    st[0] = t + 1
    x = math.log1p(volume)
    ring = st[1 : 1 + 2 * window]
    ring[t % window] = x
    ring[t % window + window] = x
    closes = st[1 + 2 * window : 2 + 2 * window + k]
    closes[t % (k + 1)] = close
    vz = np.nan
    if t >= window - 1:
        vz = window_z(ring, (t + 1) % window, window, x, clip)
    ret = np.nan
    if t >= k and atr == atr and atr > 0.0:
        ret = (close - closes[(t - k) % (k + 1)]) / (atr * math.sqrt(k))
    return atr / close, vz, ret
