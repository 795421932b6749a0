"""Candles: one closed bar as a value, and a whole series as columns for batch work."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

INTERVAL_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "6h": 6 * HOUR_MS,
    "8h": 8 * HOUR_MS,
    "12h": 12 * HOUR_MS,
    "1d": DAY_MS,
}


def interval_ms(interval: str) -> int:
    """Length of a Binance interval name in ms; raises ValueError naming the valid ones."""
    try:
        return INTERVAL_MS[interval]
    except KeyError:
        valid = ", ".join(INTERVAL_MS)
        raise ValueError(f"unknown interval {interval!r}; use one of {valid}") from None


class Candle(msgspec.Struct, frozen=True, gc=False):
    """One closed candle. Times are int UTC ms; prices and volume floats (the analytics zone)."""

    symbol: str
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float


F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class CandleSeries:
    """A symbol's candles of one interval as aligned numpy columns, sorted by open time."""

    symbol: str
    interval: str
    open_time: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    def __len__(self) -> int:
        return int(self.open_time.shape[0])

    @property
    def interval_ms(self) -> int:
        return interval_ms(self.interval)

    def candle(self, i: int) -> Candle:
        """Row *i* as a `Candle` (close_time = open_time + interval − 1, as Binance reports)."""
        ot = int(self.open_time[i])
        return Candle(
            self.symbol,
            ot,
            ot + self.interval_ms - 1,
            float(self.open[i]),
            float(self.high[i]),
            float(self.low[i]),
            float(self.close[i]),
            float(self.volume[i]),
        )

    def slice(self, start: int, stop: int) -> CandleSeries:
        """Rows [start, stop) as a new series sharing memory with this one."""
        return CandleSeries(
            self.symbol,
            self.interval,
            self.open_time[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
        )
