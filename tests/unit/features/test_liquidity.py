"""Liquidity pools and sweeps: hand-made cases, a literal brute-force reading of the rule on
random data, and the incremental stacks against the batch ranking."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain.candle import CandleSeries
from slt.features import DEFAULT_PARAMS, FEATURE_NAMES, compute_features
from slt.features.liquidity import (
    liq_state_init,
    push_levels,
    sweep_recent,
    sweep_step,
    sweep_value,
)
from slt.features.primitives import liquidity, swings
from slt.features.swings import pivot_state_size, pivot_step

MakeSeries = Callable[..., CandleSeries]
SWEEP = FEATURE_NAMES.index("sweep_recent")
SMALL = dataclasses.replace(DEFAULT_PARAMS, pivot_left=1, pivot_right=1)


def _arrays(rows: list[tuple[float, float, float]]) -> tuple[np.ndarray, ...]:
    return tuple(np.array(x) for x in zip(*rows, strict=True))


# swing high 12 at bar 1 (confirmed at 2), lows never below 9.5, highs falling until bar 5
BEFORE = [
    (10.0, 9.0, 9.5),
    (12.0, 10.0, 11.0),
    (11.0, 9.5, 10.0),
    (10.9, 9.5, 10.0),
    (10.8, 9.5, 10.0),
]
AFTER = [(11.0, 9.6, 10.5)] * 11


def test_a_bear_sweep_decays_linearly_over_ten_bars(make_series: MakeSeries) -> None:
    h, lo, c = _arrays([*BEFORE, (12.5, 9.6, 11.8), *AFTER])  # wick above 12, close below
    liq = liquidity(h, lo, c, swings(h, lo, 1, 1))
    assert liq.sweep.tolist() == [0] * 5 + [-1] + [0] * 11
    f = compute_features(make_series(h, lo, c), SMALL)
    expected = [0.0] * 5 + [-(1.0 - k / 10) for k in range(10)] + [0.0, 0.0]
    np.testing.assert_allclose(f[:, SWEEP], expected, rtol=0, atol=1e-15)
    assert f[5, SWEEP] == -1.0 and f[14, SWEEP] == -(1.0 - 9 / 10) and f[15, SWEEP] == 0.0


def test_a_level_traded_through_by_a_close_beyond_is_gone(make_series: MakeSeries) -> None:
    # bar 5 closes above 12: a break, not a sweep; bar 7 wicks above 12 again and closes below
    rows = [*BEFORE, (12.5, 9.6, 12.3), (11.0, 9.6, 10.5), (12.45, 9.6, 11.9), *AFTER]
    h, lo, c = _arrays(rows)
    liq = liquidity(h, lo, c, swings(h, lo, 1, 1))
    assert not liq.sweep.any()
    i = liq.level.tolist().index(12.0)
    assert liq.taken[i] == 5 and not liq.swept[i]
    assert (compute_features(make_series(h, lo, c), SMALL)[:, SWEEP] == 0).all()


def test_sell_side_sweep_mirrors(make_series: MakeSeries) -> None:
    h, lo, c = _arrays([*BEFORE, (12.5, 9.6, 11.8), *AFTER])
    m = 30.0
    f = compute_features(make_series(m - lo, m - h, m - c), SMALL)
    assert f[5, SWEEP] == 1.0 and f[9, SWEEP] == 1.0 - 4 / 10


def _ladder(last_close: float) -> tuple[np.ndarray, ...]:
    """Six falling untaken swing highs 20, 19, ..., 15 (L = R = 1, flat lows: no swing lows),
    then a bar reaching 21 that closes at `last_close`."""
    rows = []
    for i in range(6):
        rows += [(14.0, 10.0, 12.0), (20.0 - i, 10.0, 12.0)]
    rows += [(14.0, 10.0, 12.0), (21.0, 10.0, last_close)]
    return _arrays(rows)


def test_only_the_five_latest_untaken_levels_are_swept() -> None:
    h, lo, c = _ladder(19.5)  # below the 6th level (20) only: not in the pool
    liq = liquidity(h, lo, c, swings(h, lo, 1, 1), depth=5)
    assert sorted(liq.level.tolist()) == [15.0, 16.0, 17.0, 18.0, 19.0, 20.0]
    assert (liq.taken == 13).all()
    assert not liq.sweep.any()
    assert liquidity(h, lo, c, swings(h, lo, 1, 1), depth=6).sweep[13] == -1
    h, lo, c = _ladder(18.5)  # below the 5th level (19)
    liq = liquidity(h, lo, c, swings(h, lo, 1, 1), depth=5)
    assert liq.sweep[13] == -1
    assert liq.swept.tolist() == [False, True, False, False, False, False]


def _brute_force(
    h: np.ndarray, lo: np.ndarray, c: np.ndarray, left: int, right: int, depth: int
) -> np.ndarray:
    """The rule read literally: at bar k the pool is the `depth` most recently confirmed
    untaken levels of each side (confirmed <= k-1); every level traded through is removed."""
    piv = swings(h, lo, left, right)
    highs: list[float] = []  # untaken, in confirmation order
    lows: list[float] = []
    out = np.zeros(c.size, dtype=np.int64)
    for k in range(c.size):
        bear = any(h[k] > x and c[k] < x for x in highs[-depth:])
        bull = any(lo[k] < x and c[k] > x for x in lows[-depth:])
        out[k] = int(bull) - int(bear)
        highs = [x for x in highs if not h[k] > x]
        lows = [x for x in lows if not lo[k] < x]
        if piv.high_pivot[k] >= 0:
            highs.append(float(piv.high_level[k]))
        if piv.low_pivot[k] >= 0:
            lows.append(float(piv.low_level[k]))
    return out


def _incremental(
    h: np.ndarray, lo: np.ndarray, c: np.ndarray, left: int, right: int, depth: int, window: int
) -> np.ndarray:
    piv = np.zeros(pivot_state_size(left, right))
    st_ = liq_state_init()
    stacks = np.full((2, c.size + 1), np.nan)
    out = np.zeros(c.size)
    for t in range(c.size):
        ph, pl = pivot_step(piv, h[t], lo[t], left, right)
        sweep_step(st_, stacks, t, h[t], lo[t], c[t], depth)
        push_levels(st_, stacks, ph, pl)
        out[t] = sweep_value(st_, t, window)
    return out


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 400),
    seed=st.integers(0, 2**32 - 1),
    lr=st.sampled_from([1, 2, 3, 5]),
    depth=st.integers(1, 6),
    window=st.integers(1, 12),
)
def test_batch_and_incremental_equal_the_literal_rule_on_random_prices(
    n: int, seed: int, lr: int, depth: int, window: int
) -> None:
    rng = np.random.default_rng(seed)
    mid = 100.0 + np.cumsum(rng.integers(-2, 3, n)).astype(np.float64)
    h = mid + rng.integers(0, 3, n)
    lo = mid - rng.integers(0, 3, n)
    c = np.clip(mid + rng.integers(-2, 3, n), lo, h)
    liq = liquidity(h, lo, c, swings(h, lo, lr, lr), depth)
    np.testing.assert_array_equal(liq.sweep, _brute_force(h, lo, c, lr, lr, depth))
    np.testing.assert_array_equal(
        sweep_recent(liq, window), _incremental(h, lo, c, lr, lr, depth, window)
    )
    for i in np.flatnonzero(liq.taken >= 0):
        k, x, side = liq.taken[i], liq.level[i], liq.side[i]
        between = h[liq.confirmed[i] + 1 : k] if side > 0 else -lo[liq.confirmed[i] + 1 : k]
        assert (between <= side * x).all()  # nothing traded through it earlier
        assert (h[k] > x) if side > 0 else (lo[k] < x)


def test_batch_equals_incremental_on_real_data(sample: dict[str, CandleSeries]) -> None:
    for s in sample.values():
        liq = liquidity(s.high, s.low, s.close, swings(s.high, s.low, 5, 5), 5)
        assert np.count_nonzero(liq.sweep) > 100
        np.testing.assert_array_equal(
            sweep_recent(liq, 10), _incremental(s.high, s.low, s.close, 5, 5, 5, 10)
        )
