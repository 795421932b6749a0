"""The baseline strategy's two forms agree, and neither looks ahead.

Backtests use `batch(series)`; live trading feeds `incremental(symbol).update(candle)` one closed
candle at a time. On every bar of the bundled sample's real candles (four symbols, ~20k bars
each) both must give the same signal: the same direction (0 = none) on every bar and, where a
signal fires, bit-identical expected_return, confidence and atr_pct, stamped at the close.

No lookahead: batch over the data truncated after row t must give, on every row ≤ t, exactly
what batch over the whole series gives, for many t (every signal bar, its neighbours, and an
even spread of other bars).
"""

from __future__ import annotations

import numpy as np
import pytest

from slt.config import BaselineConfig, load_settings
from slt.data.sample import SAMPLE_SYMBOLS
from slt.domain import CandleSeries
from slt.strategy.base import SignalColumns
from slt.strategy.baseline import EmaAtrBaseline

CONFIGS = {
    "default": load_settings().baseline,
    # A narrow band and no ATR filter: several times more signals, more regime flips.
    "fast-narrow": BaselineConfig(
        fast=9, slow=21, atr_period=7, band_atr=0.2, min_atr_pct=0.0, max_atr_pct=1.0
    ),
}


def _bits(x: float) -> int:
    return int(np.float64(x).view(np.int64))


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("symbol", SAMPLE_SYMBOLS)
def test_batch_and_incremental_give_the_same_signal_on_every_bar(
    symbol: str, config: str, sample: dict[str, CandleSeries]
) -> None:
    series = sample[symbol]
    strategy = EmaAtrBaseline(CONFIGS[config])
    cols = strategy.batch(series)
    state = strategy.incremental(symbol)
    fired = 0
    for i in range(len(series)):
        candle = series.candle(i)
        signal = state.update(candle)
        expected = int(cols.direction[i])
        if signal is None:
            assert expected == 0, f"bar {i}: batch says {expected}, incremental says nothing"
            continue
        fired += 1
        assert signal.direction == expected, f"bar {i}"
        assert signal.symbol == symbol and signal.source == strategy.name
        assert signal.time_ms == candle.close_time + 1, f"bar {i}: not stamped at its close"
        for field in ("expected_return", "confidence", "atr_pct"):
            live = getattr(signal, field)
            batch = float(getattr(cols, field)[i])
            assert _bits(live) == _bits(batch), f"bar {i} {field}: live {live!r} batch {batch!r}"
    assert fired == int(np.count_nonzero(cols.direction))
    assert fired >= 20, "too few signals for the comparison to mean much"


def _cut_points(direction: np.ndarray, n: int) -> list[int]:
    signals = np.nonzero(direction)[0]
    near = np.concatenate([signals - 1, signals, signals + 1])
    spread = np.linspace(0, n - 1, 60).astype(np.int64)
    points = np.unique(np.concatenate([near, spread]))
    return [int(t) for t in points if 0 <= t < n]


def _assert_prefix_equal(full: SignalColumns, cut: SignalColumns, t: int) -> None:
    np.testing.assert_array_equal(cut.direction, full.direction[: t + 1], err_msg=f"t={t}")
    for name in ("expected_return", "confidence", "atr_pct"):
        a = getattr(cut, name)
        b = getattr(full, name)[: t + 1]
        same = (a.view(np.int64) == b.view(np.int64)) | (np.isnan(a) & np.isnan(b))
        assert same.all(), f"t={t} {name}: differs at rows {np.nonzero(~same)[0][:5]}"


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("symbol", SAMPLE_SYMBOLS)
def test_batch_does_not_look_ahead(
    symbol: str, config: str, sample: dict[str, CandleSeries]
) -> None:
    series = sample[symbol]
    strategy = EmaAtrBaseline(CONFIGS[config])
    full = strategy.batch(series)
    points = _cut_points(full.direction, len(series))
    assert len(points) >= 100
    for t in points:
        _assert_prefix_equal(full, strategy.batch(series.slice(0, t + 1)), t)


@pytest.mark.parametrize("symbol", SAMPLE_SYMBOLS)
def test_changing_the_future_does_not_change_the_past(
    symbol: str, sample: dict[str, CandleSeries]
) -> None:
    """Same property, other angle: replace everything after row t with the bars reversed in
    time (so the future looks nothing like the original) and compare rows ≤ t."""
    series = sample[symbol]
    strategy = EmaAtrBaseline(CONFIGS["default"])
    full = strategy.batch(series)
    for t in np.linspace(300, len(series) - 300, 25).astype(int).tolist():
        cols = [series.open, series.high, series.low, series.close, series.volume]
        swapped = [np.concatenate([c[: t + 1], c[t + 1 :][::-1]]) for c in cols]
        other = CandleSeries(symbol, series.interval, series.open_time, *swapped)
        changed = strategy.batch(other)
        _assert_prefix_equal(full, SignalColumns(*(c[: t + 1] for c in _columns(changed))), t)
        assert not np.array_equal(changed.atr_pct[t + 1 :], full.atr_pct[t + 1 :], equal_nan=True)


def _columns(c: SignalColumns) -> tuple[np.ndarray, ...]:
    return (c.direction, c.expected_return, c.confidence, c.atr_pct)
