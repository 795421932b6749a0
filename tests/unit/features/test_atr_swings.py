"""ATR and swing pivots: hand-made cases with known answers, and batch == incremental."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain.candle import CandleSeries
from slt.features.atr import ATR_STATE, atr_batch, atr_step
from slt.features.primitives import atr, swings
from slt.features.swings import pivot_state_size, pivot_step
from slt.strategy.indicators import wilder_atr

Bits = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _atr_incremental(s: CandleSeries, period: int) -> np.ndarray:
    state = np.zeros(ATR_STATE)
    return np.array(
        [atr_step(state, s.high[i], s.low[i], s.close[i], period) for i in range(len(s))]
    )


def _pivots_incremental(
    high: np.ndarray, low: np.ndarray, left: int, right: int
) -> tuple[np.ndarray, np.ndarray]:
    state = np.zeros(pivot_state_size(left, right))
    rows = [pivot_step(state, h, lo, left, right) for h, lo in zip(high, low, strict=True)]
    out = np.array(rows, dtype=np.float64).reshape(-1, 2)
    return out[:, 0], out[:, 1]


def test_atr_of_unit_range_candles_is_one_from_bar_13() -> None:
    n = 30
    close = 100.0 + np.zeros(n)
    a = atr(close + 0.5, close - 0.5, close)
    assert np.isnan(a[:13]).all()
    np.testing.assert_array_equal(a[13:], 1.0)


def test_atr_seed_is_the_mean_true_range_then_wilder_smoothing() -> None:
    high = np.array([11.0, 12.0, 12.5, 15.0])
    low = np.array([10.0, 10.5, 11.0, 12.0])
    close = np.array([10.5, 11.8, 11.2, 14.0])
    # TR: 1.0, 1.5 (12-10.5), 1.5 (max(1.5, 0.7, 0.8)), 3.8 (15 - 11.2)
    a = atr(high, low, close, period=2)
    assert np.isnan(a[0])
    assert a[1] == 1.25
    assert a[2] == (1.25 * 1 + 1.5) / 2
    assert a[3] == (a[2] + (15.0 - 11.2)) / 2


def test_atr_batch_equals_strategy_atr_and_incremental_on_real_data(
    sample: dict[str, CandleSeries], bits_equal: Bits
) -> None:
    for s in sample.values():
        batch = atr_batch(s.high, s.low, s.close, 14)
        assert bits_equal(batch, wilder_atr(s.high, s.low, s.close, 14)).all()
        assert bits_equal(batch, _atr_incremental(s, 14)).all()


def _tent(peak_at: int, n: int, peak: float = 10.0) -> np.ndarray:
    """Heights rising to `peak` at `peak_at`, falling after it."""
    return peak - np.abs(np.arange(n) - peak_at).astype(np.float64)


def test_pivot_high_is_confirmed_exactly_right_bars_after_and_not_before() -> None:
    high = _tent(5, 16)
    low = high - 1.0
    piv = swings(high, low, 5, 5)
    confirmed = np.flatnonzero(piv.high_pivot >= 0)
    assert confirmed.tolist() == [10]
    assert piv.high_pivot[10] == 5 and piv.high_level[10] == 10.0
    # with data up to bar 9 the pivot is not known yet
    assert (swings(high[:10], low[:10], 5, 5).high_pivot < 0).all()
    # incremental: NaN on every bar but 10
    ph, _ = _pivots_incremental(high, low, 5, 5)
    assert np.flatnonzero(~np.isnan(ph)).tolist() == [10]
    assert ph[10] == 10.0


def test_pivot_low_mirrors_the_high() -> None:
    low = -_tent(7, 20)
    piv = swings(low + 1.0, low, 5, 5)
    assert np.flatnonzero(piv.low_pivot >= 0).tolist() == [12]
    assert piv.low_pivot[12] == 7 and piv.low_level[12] == -10.0
    assert (piv.high_pivot < 0).all() or np.flatnonzero(piv.high_pivot >= 0).tolist() == []


def test_left_side_is_strict_and_right_side_is_not() -> None:
    high = _tent(5, 16)
    left_tie = high.copy()
    left_tie[3] = 10.0  # equal high 2 bars before the pivot: not a pivot
    assert (swings(left_tie, left_tie - 1, 5, 5).high_pivot < 0).all()
    right_tie = high.copy()
    right_tie[8] = 10.0  # equal high 3 bars after: still a pivot at 5 (and 8 is not one)
    piv = swings(right_tie, right_tie - 1, 5, 5)
    assert np.flatnonzero(piv.high_pivot >= 0).tolist() == [10]
    assert piv.high_pivot[10] == 5


def test_an_outside_bar_can_be_both_pivots() -> None:
    high = np.full(11, 10.0)
    low = np.full(11, 9.0)
    high[:5] = low[:5] + 0.5 + 0.01 * np.arange(5)  # strictly below the outside bar's high
    high[5], low[5] = 12.0, 7.0
    piv = swings(high, low, 5, 5)
    assert piv.high_pivot[10] == 5 and piv.low_pivot[10] == 5


def test_pivots_of_one_side_are_more_than_min_left_right_apart(
    sample: dict[str, CandleSeries],
) -> None:
    s = sample["BTCUSDT"]
    for left, right in ((5, 5), (2, 4), (3, 1)):
        piv = swings(s.high, s.low, left, right)
        for pivots in (piv.high_pivot, piv.low_pivot):
            p = pivots[pivots >= 0]
            assert np.diff(p).min() > min(left, right)


def test_batch_equals_incremental_on_real_data(
    sample: dict[str, CandleSeries], bits_equal: Bits
) -> None:
    for s in sample.values():
        piv = swings(s.high, s.low, 5, 5)
        ph, pl = _pivots_incremental(s.high, s.low, 5, 5)
        assert bits_equal(piv.high_level, ph).all()
        assert bits_equal(piv.low_level, pl).all()
        assert (np.isnan(ph) == (piv.high_pivot < 0)).all()


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 300),
    seed=st.integers(0, 2**32 - 1),
    left=st.integers(1, 6),
    right=st.integers(1, 6),
)
def test_batch_equals_incremental_on_coarse_random_prices(
    n: int, seed: int, left: int, right: int
) -> None:
    rng = np.random.default_rng(seed)
    mid = np.cumsum(rng.integers(-2, 3, n)).astype(np.float64)  # many equal highs and lows
    high = mid + rng.integers(0, 3, n)
    low = mid - rng.integers(0, 3, n)
    piv = swings(high, low, left, right)
    ph, pl = _pivots_incremental(high, low, left, right)
    np.testing.assert_array_equal(piv.high_level, ph)
    np.testing.assert_array_equal(piv.low_level, pl)
    for t in np.flatnonzero(piv.high_pivot >= 0):
        p = piv.high_pivot[t]
        assert p == t - right
        assert (high[p] > high[p - left : p]).all() and (high[p] >= high[p + 1 : t + 1]).all()
