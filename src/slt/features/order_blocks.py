"""Order blocks: the last opposing candle before a structure break, until invalidated.

Definition (structure events from structure.py):

* A bull break at bar t (BOS or CHoCH) of the swing high with pivot p creates a **bull
  block**: the candle k with the lowest low strictly between p and t (p < k < t; ties go to
  the latest such candle). Zone ``[bottom, top] = [low[k], high[k]]``. It is stamped at t,
  the break bar, never at k.
* The block is **invalidated** at the first bar j > t with ``close[j] < bottom`` and counts
  no more from j on (j included); it **expires** after ob_max_age bars (it counts on bars
  t .. t + ob_max_age - 1). It is *mitigated* at the first bar j > t whose low reaches
  the zone (``low[j] <= top``); mitigation is reported but does not remove the block.
* Bear blocks mirror this: highest high between the broken swing low's pivot and t, zone
  ``[low[k], high[k]]``, invalidated by ``close[j] > top``, mitigated by ``high[j] >= bottom``.

Feature `ob_balance_atr` at bar t, with ATR = ATR[t] and cap C = 10:

    d_bull = min(C, min over live bull blocks of max(0, close[t] - top) / ATR)
    d_bear = min(C, min over live bear blocks of max(0, bottom - close[t]) / ATR)
    value  = d_bear - d_bull          (in [-C, C]; C on a side with no live block)

so it is positive when support (a bull block) is nearer than resistance. NaN where ATR[t]
is NaN or 0. No block is ever dropped for lack of room: the incremental store holds
`FeatureParams.ob_capacity` blocks per side, a proven upper bound on live blocks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from slt.domain.candle import F64, I64
from slt.features.structure import Structure

NPt = np.ndarray


class OrderBlocks(NamedTuple):
    """One row per block, in creation order (module docstring).

    `created`: break bar; `direction`: +1 bull / -1 bear; `candle`: index of the block
    candle; `top` / `bottom`: zone; `mitigated`: first bar touching the zone, -1 if none
    while live; `end`: first bar the block no longer counts (n if live at the last bar);
    `end_reason`: 1 invalidated, 2 expired, 0 still live at the last bar.
    """

    created: I64
    direction: NPt
    candle: I64
    top: F64
    bottom: F64
    mitigated: I64
    end: I64
    end_reason: NPt


@njit(cache=True)
def _order_blocks(
    high: F64, low: F64, close: F64, event: NPt, pivot: I64, max_age: int
) -> tuple[I64, NPt, I64, F64, F64, I64, I64, NPt]:
    n = close.size
    m = 0
    for t in range(n):
        if event[t] != 0:
            m += 1
    created = np.empty(m, dtype=np.int64)
    direction = np.empty(m, dtype=np.int8)
    candle = np.empty(m, dtype=np.int64)
    top = np.empty(m)
    bottom = np.empty(m)
    mitigated = np.full(m, -1, dtype=np.int64)
    end = np.empty(m, dtype=np.int64)
    reason = np.zeros(m, dtype=np.int8)
    i = 0
    for t in range(n):
        if event[t] == 0:
            continue
        bull = event[t] > 0
        best = -1
        for k in range(t - 1, pivot[t], -1):  # latest first: strict compare keeps the latest
            if best < 0 or (low[k] < low[best] if bull else high[k] > high[best]):
                best = k
        created[i] = t
        direction[i] = 1 if bull else -1
        candle[i] = best
        top[i] = high[best]
        bottom[i] = low[best]
        stop = t + max_age
        e = n if stop >= n else stop
        r = 0 if stop >= n else 2
        for j in range(t + 1, min(stop, n)):
            if mitigated[i] < 0 and (low[j] <= top[i] if bull else high[j] >= bottom[i]):
                mitigated[i] = j
            if close[j] < bottom[i] if bull else close[j] > top[i]:
                e = j
                r = 1
                break
        end[i] = e
        reason[i] = r
        i += 1
    return created, direction, candle, top, bottom, mitigated, end, reason


def order_blocks(
    high: F64, low: F64, close: F64, struct: Structure, max_age: int = 2880
) -> OrderBlocks:
    """Every order block of whole arrays with its life cycle (module docstring)."""
    return OrderBlocks(
        *_order_blocks(
            np.ascontiguousarray(high, dtype=np.float64),
            np.ascontiguousarray(low, dtype=np.float64),
            np.ascontiguousarray(close, dtype=np.float64),
            struct.event,
            struct.broken_pivot,
            max_age,
        )
    )


@njit(cache=True)
def _balance(
    close: F64, atr: F64, created: I64, direction: NPt, top: F64, bottom: F64, end: I64, cap: float
) -> F64:
    n = close.size
    d_bull = np.full(n, cap)
    d_bear = np.full(n, cap)
    for i in range(created.size):
        for j in range(created[i], end[i]):
            c = close[j]
            if direction[i] > 0:
                x = (c - top[i]) / atr[j] if c > top[i] else 0.0
                if x > cap:
                    x = cap
                if x < d_bull[j]:
                    d_bull[j] = x
            else:
                x = (bottom[i] - c) / atr[j] if c < bottom[i] else 0.0
                if x > cap:
                    x = cap
                if x < d_bear[j]:
                    d_bear[j] = x
    out = np.empty(n)
    for j in range(n):
        a = atr[j]
        out[j] = d_bear[j] - d_bull[j] if a == a and a > 0.0 else np.nan
    return out


def ob_balance(close: F64, atr: F64, blocks: OrderBlocks, cap: float) -> F64:
    """Per-bar `ob_balance_atr` from the blocks' life cycles (module docstring)."""
    return _balance(
        np.ascontiguousarray(close, dtype=np.float64),
        atr,
        blocks.created,
        blocks.direction,
        blocks.top,
        blocks.bottom,
        blocks.end,
        cap,
    )


def ob_state_size(capacity: int) -> int:
    """Incremental state: [bull count, bear count, bull (top, bottom, created) × capacity,
    bear (top, bottom, created) × capacity]."""
    return 2 + 6 * capacity


@njit(cache=True)
def _side_step(
    st: F64,
    base: int,
    count_slot: int,
    t: int,
    close: float,
    atr: float,
    new_top: float,
    new_bot: float,
    bull: bool,
    max_age: int,
    cap: float,
) -> float:
    count = int(st[count_slot])
    keep = 0
    for i in range(count):
        o = base + 3 * i
        top = st[o]
        bot = st[o + 1]
        born = st[o + 2]
        dead = close < bot if bull else close > top
        if dead or t - born >= max_age:
            continue
        w = base + 3 * keep
        st[w] = top
        st[w + 1] = bot
        st[w + 2] = born
        keep += 1
    if new_top == new_top:
        w = base + 3 * keep
        st[w] = new_top
        st[w + 1] = new_bot
        st[w + 2] = t
        keep += 1
    st[count_slot] = keep
    best = cap
    for i in range(keep):
        o = base + 3 * i
        if bull:
            x = (close - st[o]) / atr if close > st[o] else 0.0
        else:
            x = (st[o + 1] - close) / atr if close < st[o + 1] else 0.0
        if x > cap:
            x = cap
        if x < best:
            best = x
    return best


@njit(cache=True)
def ob_step(
    st: F64,
    t: int,
    close: float,
    atr: float,
    bull_top: float,
    bull_bot: float,
    bear_top: float,
    bear_bot: float,
    max_age: int,
    capacity: int,
    cap: float,
) -> float:
    """Feed bar t: drop invalidated/expired blocks, add the blocks created at t (NaN bounds
    for none), return `ob_balance_atr`."""
    d_bull = _side_step(st, 2, 0, t, close, atr, bull_top, bull_bot, True, max_age, cap)
    d_bear = _side_step(
        st, 2 + 3 * capacity, 1, t, close, atr, bear_top, bear_bot, False, max_age, cap
    )
    if atr == atr and atr > 0.0:
        return d_bear - d_bull
    return np.nan
