"""Fair value gaps: creation threshold and stamping, fill, expiry, eviction, nearest-gap
features, invariants, and the incremental step against the batch life cycles."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain.candle import CandleSeries
from slt.features import DEFAULT_PARAMS, FEATURE_NAMES, compute_features
from slt.features.fvg import fvg_features, fvg_state_size, fvg_step
from slt.features.primitives import atr, fair_value_gaps

Bits = Callable[[np.ndarray, np.ndarray], np.ndarray]
MakeSeries = Callable[..., CandleSeries]
DIST, SIZE = FEATURE_NAMES.index("fvg_dist_atr"), FEATURE_NAMES.index("fvg_size_atr")


def _bull_gap(
    g: float, extra: list[tuple[float, float, float]] | None = None
) -> tuple[np.ndarray, ...]:
    """21 unit-range flat bars at 100 (ATR = 1), an up candle, then a bar whose low is
    ``high[20] + g = 100.5 + g``; then `extra` (high, low, close) bars."""
    rows = [(100.5, 99.5, 100.0)] * 21 + [(102.0, 99.8, 101.9), (102.5, 100.5 + g, 102.2)]
    rows += extra or []
    return tuple(np.array(x) for x in zip(*rows, strict=True))


def test_bull_gap_is_created_at_the_third_candle_iff_it_reaches_a_tenth_of_atr() -> None:
    created_for = []
    for g in np.linspace(0.0, 0.3, 31):
        h, lo, c = _bull_gap(g)
        a = atr(h, lo, c)
        gaps = fair_value_gaps(h, lo, a)
        expected = g >= 0.1 * a[22] and g > 0
        assert (gaps.created.tolist() == [22]) == expected, g
        if expected:
            created_for.append(g)
            assert gaps.direction[0] == 1
            assert gaps.bottom[0] == 100.5 and gaps.top[0] == 100.5 + g
            assert gaps.size_atr[0] == ((100.5 + g) - 100.5) / a[22]
    assert 0 < len(created_for) < 31  # the threshold was crossed inside the family


def test_gap_is_not_known_before_its_third_candle() -> None:
    h, lo, c = _bull_gap(0.2)
    a = atr(h, lo, c)
    assert fair_value_gaps(h[:22], lo[:22], a[:22]).created.size == 0
    assert fair_value_gaps(h, lo, a).created.tolist() == [22]


def test_fill_needs_a_trade_through_the_midpoint(make_series: MakeSeries) -> None:
    # zone [100.5, 100.7], midpoint 100.6: a low at 100.6 touches it, 100.59 trades through
    h, lo, c = _bull_gap(0.2, [(102.0, 100.6, 101.5), (101.0, 100.59, 100.8)])
    gaps = fair_value_gaps(h, lo, atr(h, lo, c))
    assert gaps.filled.tolist() == [24]
    assert gaps.end.tolist() == [24] and gaps.end_reason.tolist() == [1]
    f = compute_features(make_series(h, lo, c))
    a = atr(h, lo, c)
    assert np.isnan(f[:22, DIST]).all()
    np.testing.assert_array_equal(f[22:24, DIST], (100.7 - c[22:24]) / a[22:24])
    np.testing.assert_array_equal(f[22:24, SIZE], (100.7 - 100.5) / a[22])
    assert np.isnan(f[24, DIST]) and np.isnan(f[24, SIZE])


def test_bear_gap_mirrors_the_bull_gap(make_series: MakeSeries) -> None:
    h, lo, c = _bull_gap(0.25, [(102.0, 100.6, 101.5)])
    m = 200.0
    f_bull = compute_features(make_series(h, lo, c))
    f_bear = compute_features(make_series(m - lo, m - h, m - c))
    gaps = fair_value_gaps(m - lo, m - h, atr(m - lo, m - h, m - c))
    assert gaps.created.tolist() == [22] and gaps.direction.tolist() == [-1]
    assert gaps.top[0] == m - 100.5 and gaps.bottom[0] == m - (100.5 + 0.25)
    np.testing.assert_allclose(f_bear[:, DIST], -f_bull[:, DIST], rtol=1e-12)
    np.testing.assert_allclose(f_bear[:, SIZE], -f_bull[:, SIZE], rtol=1e-12)


def test_gap_expires_after_max_age() -> None:
    h, lo, c = _bull_gap(0.2, [(102.0, 101.0, 101.5)] * 5)
    gaps = fair_value_gaps(h, lo, atr(h, lo, c), max_age=3)
    assert gaps.end.tolist() == [25] and gaps.end_reason.tolist() == [2]  # bars 22, 23, 24


def _staircase(steps: int) -> tuple[np.ndarray, ...]:
    """Flat bars, then `steps` up-gaps of 2 (one every two bars), none ever filled."""
    rows = [(100.5, 99.5, 100.0)] * 20
    price = 100.0
    for _ in range(steps):
        rows.append((price + 2.5, price - 0.2, price + 2.4))
        price += 3.0
        rows.append((price + 0.5, price - 0.5, price))
    return tuple(np.array(x) for x in zip(*rows, strict=True))


def test_count_limit_evicts_the_oldest_gap() -> None:
    h, lo, c = _staircase(5)
    a = atr(h, lo, c)
    every = fair_value_gaps(h, lo, a)
    assert every.created.size >= 5 and (every.end_reason == 0).all()
    capped = fair_value_gaps(h, lo, a, max_count=2)
    np.testing.assert_array_equal(capped.created, every.created)
    k = capped.created.size
    assert capped.end_reason.tolist() == [3] * (k - 2) + [0, 0]
    assert capped.end[: k - 2].tolist() == capped.created[2:].tolist()


def _incremental(
    h: np.ndarray, lo: np.ndarray, c: np.ndarray, a: np.ndarray, max_age: int, max_count: int
) -> np.ndarray:
    state = np.zeros(fvg_state_size(max_count))
    rows = [
        fvg_step(state, t, h[t], lo[t], c[t], a[t], 0.1, max_age, max_count, 10.0)
        for t in range(c.size)
    ]
    return np.array(rows, dtype=np.float64).reshape(-1, 2)


def test_nearest_gap_ties_go_to_the_newest(make_series: MakeSeries) -> None:
    h, lo, c = _staircase(3)
    a = atr(h, lo, c)
    gaps = fair_value_gaps(h, lo, a)
    dist, size = fvg_features(c, a, gaps, 10.0)
    last = c.size - 1
    # the close is above every gap; the newest gap is the nearest
    assert size[last] == gaps.size_atr[-1]
    inc = _incremental(h, lo, c, a, 1440, 64)
    np.testing.assert_array_equal(inc[:, 0], dist)
    np.testing.assert_array_equal(inc[:, 1], size)


def test_batch_equals_incremental_on_real_data(
    sample: dict[str, CandleSeries], bits_equal: Bits
) -> None:
    p = DEFAULT_PARAMS
    for s in sample.values():
        a = atr(s.high, s.low, s.close)
        gaps = fair_value_gaps(s.high, s.low, a)
        dist, size = fvg_features(s.close, a, gaps, p.dist_cap)
        inc = _incremental(s.high, s.low, s.close, a, p.fvg_max_age, p.fvg_max_count)
        assert bits_equal(inc[:, 0], dist).all() and bits_equal(inc[:, 1], size).all()
        assert gaps.created.size > 500


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 500),
    seed=st.integers(0, 2**32 - 1),
    max_age=st.integers(1, 60),
    max_count=st.integers(1, 6),
)
def test_invariants_and_incremental_on_random_prices(
    n: int, seed: int, max_age: int, max_count: int
) -> None:
    rng = np.random.default_rng(seed)
    mid = 100.0 + np.cumsum(rng.normal(0, 1, n))
    h = mid + rng.exponential(0.3, n)
    lo = mid - rng.exponential(0.3, n)
    c = np.clip(mid + rng.normal(0, 0.2, n), lo, h)
    a = atr(h, lo, c)
    gaps = fair_value_gaps(h, lo, a, 0.1, max_age, max_count)
    assert (gaps.top > gaps.bottom).all()
    assert (np.sign(gaps.size_atr) == gaps.direction).all()
    assert (gaps.end > gaps.created).all() and (gaps.end - gaps.created <= max_age).all()
    for i in range(gaps.created.size):
        t, d, e = gaps.created[i], gaps.direction[i], gaps.end[i]
        zone = (h[t - 2], lo[t]) if d > 0 else (h[t], lo[t - 2])
        assert (gaps.bottom[i], gaps.top[i]) == zone
        mid_i = 0.5 * (gaps.top[i] + gaps.bottom[i])
        live = slice(t + 1, min(e, n))
        assert (lo[live] >= mid_i).all() if d > 0 else (h[live] <= mid_i).all()
        if gaps.end_reason[i] == 1:
            assert lo[e] < mid_i if d > 0 else h[e] > mid_i
    live_count = np.zeros(n + 1, dtype=np.int64)
    np.add.at(live_count, gaps.created, 1)
    np.add.at(live_count, gaps.end, -1)
    assert np.cumsum(live_count).max(initial=0) <= max_count
    dist, size = fvg_features(c, a, gaps, 10.0)
    assert (np.abs(dist[~np.isnan(dist)]) <= 10.0).all()
    inc = _incremental(h, lo, c, a, max_age, max_count)
    np.testing.assert_array_equal(inc[:, 0], dist)
    np.testing.assert_array_equal(inc[:, 1], size)
