"""Fixtures for the feature tests: real candles (bundled sample, shared data) and builders of
hand-made and random series. Helpers are fixtures (session-scoped, so hypothesis accepts them)
because test modules are imported without a package."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from slt.data.csv_import import parse_file
from slt.data.sample import SAMPLE_SYMBOLS, sample_files
from slt.domain.candle import MINUTE_MS, CandleSeries

T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC, aligned to every higher timeframe

SHARED_1M = (
    "futures/BTCUSDT-1m.csv.gz",
    "futures/LTCUSDT-1m.csv.gz",
    "futures/XAGUSDT-1m.csv.gz",  # 291 zero-volume candles
    "futures-2023/USDCUSDT-1m.csv.gz",  # a stablecoin: flat stretches, 8,053 zero volumes
)

MakeSeries = Callable[..., CandleSeries]
RandomWalk = Callable[..., CandleSeries]


def _make(
    high: Sequence[float],
    low: Sequence[float],
    close: Sequence[float],
    *,
    open_: Sequence[float] | None = None,
    volume: Sequence[float] | None = None,
    open_time: Sequence[int] | None = None,
    symbol: str = "TESTUSDT",
) -> CandleSeries:
    h = np.asarray(high, dtype=np.float64)
    n = h.size
    ot = (
        np.asarray(open_time, dtype=np.int64)
        if open_time is not None
        else T0 + MINUTE_MS * np.arange(n, dtype=np.int64)
    )
    c = np.asarray(close, dtype=np.float64)
    o = np.asarray(open_, dtype=np.float64) if open_ is not None else c.copy()
    v = np.asarray(volume, dtype=np.float64) if volume is not None else np.full(n, 100.0)
    return CandleSeries(symbol, "1m", ot, o, h, np.asarray(low, dtype=np.float64), c, v)


@pytest.fixture(scope="session")
def make_series() -> MakeSeries:
    """make_series(high, low, close, open_=, volume=, open_time=, symbol=): a 1m series.

    Open times default to consecutive minutes from T0, open to the close, volume to 100.
    """
    return _make


def _random_walk(
    n: int, seed: int, *, gap_rate: float = 0.0, tick: float = 0.0, symbol: str = "RWUSDT"
) -> CandleSeries:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    if tick > 0:  # coarse prices make ties (equal highs, equal levels) frequent
        close = np.maximum(np.round(close / tick) * tick, tick)
    open_ = np.concatenate([close[:1], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.001, (2, n)))
    high = np.maximum(open_, close) * (1.0 + wick[0])
    low = np.minimum(open_, close) * (1.0 - wick[1])
    if tick > 0:
        high = np.ceil(high / tick) * tick
        low = np.maximum(np.floor(low / tick) * tick, tick / 2)
    volume = np.where(rng.random(n) < 0.02, 0.0, rng.lognormal(5.0, 1.0, n))
    step = np.ones(n, dtype=np.int64)
    if gap_rate > 0:
        step += np.where(rng.random(n) < gap_rate, rng.integers(1, 90, n), 0)
    ot = T0 + MINUTE_MS * (np.cumsum(step) - 1 + int(rng.integers(0, 60)))
    return CandleSeries(symbol, "1m", ot, open_, high, low, close, volume)


@pytest.fixture(scope="session")
def random_walk() -> RandomWalk:
    """random_walk(n, seed, gap_rate=0, tick=0): synthetic 1m candles, optionally with gaps
    (missing minutes) and prices on a coarse tick grid (many ties)."""
    return _random_walk


@pytest.fixture(scope="session")
def sample() -> dict[str, CandleSeries]:
    """The bundled sample: four symbols of real 1m candles (~20k each)."""
    return {s: parse_file(p).series for s, p in zip(SAMPLE_SYMBOLS, sample_files(), strict=True)}


@pytest.fixture(scope="session")
def shared_1m(shared_data: Path) -> dict[str, CandleSeries]:
    """A few real 1m series from ../shared/data (skips where absent), keyed by file."""
    out = {}
    for rel in SHARED_1M:
        path = shared_data / "market" / rel
        if path.is_file():
            out[rel] = parse_file(path).series
    if not out:
        pytest.skip("none of the shared 1m files is present")
    return out


def same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise bit equality with NaN == NaN."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))


@pytest.fixture(scope="session")
def bits_equal() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """bits_equal(a, b): elementwise bit equality of float arrays, NaN equal to NaN."""
    return same
