"""Market data for the benchmarks: real Binance 1m candles, stitched into long series.

The shared data set holds 43k–73k one-minute candles per symbol per period, fewer than a
benchmark needs to say something about throughput on long runs. Rather than synthesise prices,
a long series is built by chaining real segments of the same symbol (the 2023 file, then the
2025 file, then the 2023 file again...), so every candle's shape is a real market's:

* open times are re-based so the whole series is continuous at 1m spacing from one common start
  (every symbol shares the same grid, as a live portfolio would);
* each appended segment's prices are multiplied by one constant so its first open equals the
  previous segment's last close: scaling by a constant keeps returns, ATR-to-price ratios and
  candle shapes exactly, and removes the artificial gap at the seam;
* scaled prices are no longer on the exchange's tick grid, so every price is rounded to the
  symbol's tick size; the venue then sees prices it could really have quoted.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from slt.domain import CandleSeries
from slt.domain.candle import MINUTE_MS

MARKET_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "market"
"""../shared/data/market beside the repository, where the real candles live."""

SEGMENT_DIRS = ("futures-2023", "futures")
"""Periods chained in this order (then repeated) to build a long series."""

COMMON_START_MS = 1_689_638_400_000
"""2023-07-18 00:00 UTC: every stitched series starts here, so all symbols share one time grid."""

PRICE_COLUMNS = ("open", "high", "low", "close")


def read_candles(path: Path) -> pd.DataFrame:
    """One `open_time,open,high,low,close,volume` file (gzip or not) as a DataFrame."""
    frame = pd.read_csv(
        path,
        dtype={
            "open_time": np.int64,
            "open": np.float64,
            "high": np.float64,
            "low": np.float64,
            "close": np.float64,
            "volume": np.float64,
        },
    )
    steps = np.diff(frame["open_time"].to_numpy())
    if steps.size and not (steps == MINUTE_MS).all():
        raise ValueError(f"{path} is not a gap-free 1m series; pick another file")
    return frame


def round_to_tick(prices: np.ndarray, tick_size: Decimal) -> np.ndarray:
    """Prices on the tick grid (nearest tick), without float noise such as 0.30000000000000004.

    Rounding to the nearest tick is monotone, so high ≥ max(open, close) ≥ min(open, close) ≥
    low still holds after rounding.
    """
    tick = float(tick_size)
    exponent = tick_size.normalize().as_tuple().exponent
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    return np.round(np.round(prices / tick) * tick, decimals)


def stitched_series(
    symbol: str,
    n_candles: int,
    tick_size: Decimal,
    *,
    market_dir: Path = MARKET_DIR,
    start_ms: int = COMMON_START_MS,
) -> CandleSeries:
    """`n_candles` continuous 1m candles of `symbol` chained from its real segments.

    Raises FileNotFoundError naming the missing file when a period is absent for the symbol.
    """
    segments = [read_candles(market_dir / d / f"{symbol}-1m.csv.gz") for d in SEGMENT_DIRS]
    parts: list[np.ndarray] = []
    volumes: list[np.ndarray] = []
    have = 0
    last_close: float | None = None
    k = 0
    while have < n_candles:
        seg = segments[k % len(segments)]
        k += 1
        take = min(len(seg), n_candles - have)
        ohlc = seg.iloc[:take][list(PRICE_COLUMNS)].to_numpy(np.float64)
        if last_close is not None:
            ohlc = ohlc * (last_close / ohlc[0, 0])
        ohlc = round_to_tick(ohlc, tick_size)
        if (ohlc <= 0).any():
            raise ValueError(f"{symbol}: scaling drove a price to zero; use fewer candles")
        parts.append(ohlc)
        volumes.append(seg["volume"].to_numpy(np.float64)[:take])
        last_close = float(ohlc[-1, 3])
        have += take
    prices = np.concatenate(parts)
    return CandleSeries(
        symbol,
        "1m",
        start_ms + np.arange(n_candles, dtype=np.int64) * MINUTE_MS,
        np.ascontiguousarray(prices[:, 0]),
        np.ascontiguousarray(prices[:, 1]),
        np.ascontiguousarray(prices[:, 2]),
        np.ascontiguousarray(prices[:, 3]),
        np.concatenate(volumes),
    )


def ohlc_frame(series: CandleSeries) -> pd.DataFrame:
    """The series in backtesting.py's layout: Open/High/Low/Close/Volume on a UTC time index."""
    return pd.DataFrame(
        {
            "Open": series.open,
            "High": series.high,
            "Low": series.low,
            "Close": series.close,
            "Volume": series.volume,
        },
        index=pd.to_datetime(series.open_time, unit="ms"),
    )
