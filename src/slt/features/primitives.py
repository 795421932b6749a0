"""Batch primitives of the ICT/SMC feature layer, each stamped at the bar it becomes known.

Every function takes whole numpy arrays and returns arrays indexed by bar (or one row per
object with the bar where it was created and the bar where it ended). A value at bar t never
depends on candles after t; where a pattern involves earlier candles (a pivot, the middle
candle of an FVG, the block candle of an order block) the *event* is still stamped at the
bar whose close makes it knowable, and the earlier index is reported alongside.

* ``atr(high, low, close, period=14) -> F64``: Wilder ATR, NaN for the first period-1 bars.
* ``swings(high, low, left=5, right=5) -> Swings``: fractal pivots stamped at their
  confirmation bar p+right: ``high_pivot[t]`` (pivot index or -1), ``high_level[t]``
  (NaN), and the same for lows.
* ``structure(high, low, close, left, right) -> Structure``: per bar ``event`` (+1 BOS bull,
  +2 CHoCH bull, -1 BOS bear, -2 CHoCH bear, 0), ``broken_level`` and ``broken_pivot`` of
  the swing broken at that bar, and the state after the bar: ``trend``, ``h1``, ``h2``,
  ``s1``, ``s2``.
* ``order_blocks(high, low, close, struct, max_age=2880) -> OrderBlocks``: one row per block:
  ``created`` (the break bar), ``direction``, ``candle`` (block candle index), ``top``,
  ``bottom``, ``mitigated`` (first bar touching the zone, -1), ``end`` and ``end_reason``
  (1 invalidated by a close beyond, 2 expired, 0 live at the last bar).
* ``fair_value_gaps(high, low, atr, min_atr=0.1, max_age=1440, max_count=64) ->
  FairValueGaps``: one row per gap: ``created`` (the third candle's bar), ``direction``,
  ``top``, ``bottom``, ``size_atr``, ``filled`` (first bar trading through the midpoint,
  -1), ``end`` and ``end_reason`` (1 filled, 2 expired, 3 evicted, 0 live).
* ``liquidity(high, low, close, swings, depth=5) -> Liquidity``: one row per swing level
  (``side``, ``pivot``, ``confirmed``, ``level``, ``taken``, ``swept``) and per bar
  ``sweep_high``, ``sweep_low``, ``sweep`` (+1 bull sweep of lows, -1 bear sweep of highs).
* ``premium_discount(close, struct, lo=-0.5, hi=1.5) -> F64``: position in the dealing range
  [S1, H1].
* ``resample(open_time, open, high, low, close, volume, period_ms, base_ms) -> Resampled``:
  causal higher-timeframe candles with the base bar at which each becomes ``visible``.

The exact rule of each is in the docstring of its module (atr.py, swings.py, structure.py,
order_blocks.py, fvg.py, liquidity.py, range.py, mtf.py).
"""

from __future__ import annotations

import numpy as np

from slt.domain.candle import F64
from slt.features.atr import atr_batch
from slt.features.fvg import FairValueGaps, fair_value_gaps
from slt.features.liquidity import Liquidity, liquidity
from slt.features.mtf import Resampled, resample
from slt.features.order_blocks import OrderBlocks, order_blocks
from slt.features.range import pd_position
from slt.features.structure import Structure, structure
from slt.features.swings import Swings, swings

__all__ = [
    "FairValueGaps",
    "Liquidity",
    "OrderBlocks",
    "Resampled",
    "Structure",
    "Swings",
    "atr",
    "fair_value_gaps",
    "liquidity",
    "order_blocks",
    "premium_discount",
    "resample",
    "structure",
    "swings",
]


def atr(high: F64, low: F64, close: F64, period: int = 14) -> F64:
    """Wilder ATR of whole arrays (atr.py)."""
    return atr_batch(
        np.ascontiguousarray(high, dtype=np.float64),
        np.ascontiguousarray(low, dtype=np.float64),
        np.ascontiguousarray(close, dtype=np.float64),
        period,
    )


def premium_discount(close: F64, struct: Structure, lo: float = -0.5, hi: float = 1.5) -> F64:
    """`pd_position` of whole arrays from a computed structure (range.py)."""
    return pd_position(np.asarray(close, dtype=np.float64), struct.h1, struct.s1, lo, hi)
