"""Random entries: a coin flip at each bar, traded with the same risk management as any strategy.

This is a control, not a strategy. A model that cannot beat entries taken at random, sized,
stopped and exited by the very same risk layer, has shown no skill: whatever it earned the
exits and the market would have earned anyway.

Each bar's draw is a pure function of `(seed, symbol, open_time)`: a splitmix64 hash of the
three, vectorised in numpy for `batch` and computed with Python integers for `incremental`, so
both forms agree bit for bit, a run is reproducible from its seed alone, and truncating or
extending the data never changes the draw of a bar already seen (no lookahead by construction).

At a bar the hash gives `u`, uniform in [0, 1) from its top 53 bits; a signal fires when
`u < rate`, long when the hash's lowest bit is 1 and short otherwise. Bars whose ATR is still
warming up (NaN) give no signal, like the baseline's. `expected_return` and `confidence` are
constants (`DEFAULT_EXPECTED_RETURN`, `DEFAULT_CONFIDENCE`) so the risk layer sizes every random
entry like an average signal and never rotates one random position into another (equal expected
returns give no gain to pay a round trip with).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from slt.domain import Candle, CandleSeries, Signal
from slt.strategy.base import SignalColumns
from slt.strategy.indicators import wilder_atr

DEFAULT_EXPECTED_RETURN = 0.002
"""Fraction; a modest edge that passes the default `min_expected_return` (0) and ranks random
signals equally among themselves."""
DEFAULT_CONFIDENCE = 0.5
"""Mid-scale: leverage and Kelly sizing treat the entry as neither weak nor certain."""

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_TO_UNIT = 2.0**-53


def splitmix64(x: int) -> int:
    """The splitmix64 finaliser on one unsigned 64-bit integer (Python ints, masked)."""
    z = (x + _GAMMA) & _MASK
    z = ((z ^ (z >> 30)) * _MUL1) & _MASK
    z = ((z ^ (z >> 27)) * _MUL2) & _MASK
    return z ^ (z >> 31)


def splitmix64_array(x: np.ndarray) -> np.ndarray:
    """`splitmix64` element-wise on a uint64 array; wrap-around is the intended arithmetic."""
    z = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(_GAMMA)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(_MUL1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(_MUL2)
    return np.asarray(z ^ (z >> np.uint64(31)), dtype=np.uint64)


def symbol_key(seed: int, symbol: str) -> int:
    """A 64-bit key per (seed, symbol). FNV-1a of the name, not `hash()`, which Python salts
    per process and would make runs irreproducible."""
    h = _FNV_OFFSET
    for byte in symbol.encode("utf-8"):
        h = ((h ^ byte) * _FNV_PRIME) & _MASK
    return splitmix64((seed & _MASK) ^ h)


def _direction(x: int, rate: float) -> int:
    if float(x >> 11) * _TO_UNIT >= rate:
        return 0
    return 1 if x & 1 else -1


class RandomEntries:
    """Long or short at random on a fraction `rate` of bars (see the module docstring).

    `atr_period` (bars) feeds the same Wilder ATR the baseline uses, so `atr_pct` (a fraction
    of the close) is a real volatility figure for the risk layer's volatility cap.
    """

    def __init__(
        self,
        rate: float,
        seed: int = 0,
        name: str = "random",
        *,
        atr_period: int = 14,
        expected_return: float = DEFAULT_EXPECTED_RETURN,
        confidence: float = DEFAULT_CONFIDENCE,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be a fraction in [0, 1], got {rate!r}")
        if atr_period < 1:
            raise ValueError(f"atr_period must be at least 1 bar, got {atr_period}")
        self.rate = float(rate)
        self.seed = int(seed)
        self.name = name
        self.atr_period = atr_period
        self.expected_return = float(expected_return)
        self.confidence = float(confidence)

    def draws(self, symbol: str, open_time: np.ndarray) -> np.ndarray:
        """Direction (+1, −1 or 0) of the coin at each open time (int UTC ms), ignoring ATR."""
        key = np.uint64(symbol_key(self.seed, symbol))
        x = splitmix64_array(np.asarray(open_time, dtype=np.int64).astype(np.uint64) ^ key)
        u = (x >> np.uint64(11)).astype(np.float64) * _TO_UNIT
        side = np.where((x & np.uint64(1)) == 1, 1, -1)
        return np.where(u < self.rate, side, 0).astype(np.int8)

    def batch(self, series: CandleSeries) -> SignalColumns:
        close = series.close
        atr_pct = wilder_atr(series.high, series.low, close, self.atr_period) / close
        direction = self.draws(series.symbol, series.open_time)
        direction[np.isnan(atr_pct)] = 0
        n = len(series)
        return SignalColumns(
            direction,
            np.full(n, self.expected_return),
            np.full(n, self.confidence),
            atr_pct,
        )

    def incremental(self, symbol: str) -> RandomEntriesState:
        return RandomEntriesState(symbol, self)


class RandomEntriesState:
    """The same draws one closed candle at a time (live mode); ATR as in `BaselineState`."""

    def __init__(self, symbol: str, strategy: RandomEntries) -> None:
        self.symbol = symbol
        self.s = strategy
        self.key = symbol_key(strategy.seed, symbol)
        self.atr_acc = 0.0
        self.prev_close = 0.0
        self.i = 0

    def update(self, candle: Candle) -> Signal | None:
        s, i, p = self.s, self.i, self.s.atr_period
        prev = candle.close if i == 0 else self.prev_close
        h, lo = candle.high, candle.low
        tr = max(h - lo, max(abs(h - prev), abs(lo - prev)))
        atr = float("nan")
        if i < p:
            self.atr_acc += tr
            if i == p - 1:
                self.atr_acc /= p
                atr = self.atr_acc
        else:
            self.atr_acc = (self.atr_acc * (p - 1) + tr) / p
            atr = self.atr_acc
        self.prev_close = candle.close
        self.i += 1
        if atr != atr:
            return None
        direction = _direction(splitmix64((candle.open_time & _MASK) ^ self.key), s.rate)
        if direction == 0:
            return None
        return Signal(
            self.symbol,
            candle.close_time + 1,
            direction,
            s.expected_return,
            s.confidence,
            atr / candle.close,
            s.name,
        )


def matching_rate(signals: Mapping[str, SignalColumns]) -> float:
    """Fraction of bars (over all symbols) with a non-zero signal: the `rate` that makes random
    entries fire about as often as the strategy whose batch signals these are; 0.0 when empty."""
    bars = sum(len(c.direction) for c in signals.values())
    fired = sum(int(np.count_nonzero(c.direction)) for c in signals.values())
    return fired / bars if bars else 0.0
