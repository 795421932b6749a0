"""Structure breaks (BOS / CHoCH) and order blocks: hand-made cases, invariants, and the
incremental state machine against the batch arrays."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain.candle import CandleSeries
from slt.features import DEFAULT_PARAMS, FEATURE_NAMES, FeatureState, compute_features
from slt.features.order_blocks import ob_balance
from slt.features.primitives import order_blocks, structure, swings
from slt.features.structure import break_step, confirm_step, struct_state_init
from slt.features.swings import pivot_state_size, pivot_step

MakeSeries = Callable[..., CandleSeries]

# (high, low, close) with pivots L = R = 1:
# bar 1 high 12 (confirmed at 2), bar 2 low 8 (confirmed at 3); bar 4 closes above 12: CHoCH
# (trend was 0); bar 5 high 13 (confirmed at 6); bar 7 closes above 13: BOS; bar 8 closes
# below the low 8 (S): CHoCH down, and invalidates both bull blocks.
SCENARIO = [
    (10.0, 9.0, 9.5),
    (12.0, 10.0, 11.0),
    (11.0, 8.0, 9.0),
    (10.0, 8.5, 9.5),
    (12.5, 9.0, 12.2),
    (13.0, 11.0, 12.8),
    (12.0, 11.5, 11.8),
    (14.0, 11.6, 13.5),
    (13.8, 7.0, 7.5),
]
SMALL = dataclasses.replace(DEFAULT_PARAMS, pivot_left=1, pivot_right=1, atr_period=1)
COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


def _arrays(rows: list[tuple[float, float, float]]) -> tuple[np.ndarray, ...]:
    return tuple(np.array(x) for x in zip(*rows, strict=True))


def test_choch_then_bos_then_bearish_choch() -> None:
    h, lo, c = _arrays(SCENARIO)
    s = structure(h, lo, c, 1, 1)
    assert s.event.tolist() == [0, 0, 0, 0, 2, 0, 0, 1, -2]
    assert s.broken_pivot[[4, 7, 8]].tolist() == [1, 5, 2]
    assert s.broken_level[[4, 7, 8]].tolist() == [12.0, 13.0, 8.0]
    assert s.trend.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, -1]
    # bar 5 closes above the broken 12 again: no second event, H was consumed
    assert s.event[5] == 0 and c[5] > 12.0


def test_break_events_in_the_feature_columns(make_series: MakeSeries) -> None:
    h, lo, c = _arrays(SCENARIO)
    f = compute_features(make_series(h, lo, c), SMALL)
    assert f[:, COL["struct_break"]].tolist() == [0, 0, 0, 0, 2, 2, 2, 1, -2]
    logs = f[:, COL["log_bars_since_break"]]
    assert np.isnan(logs[:4]).all()
    np.testing.assert_array_equal(logs[4:], np.log1p([0, 1, 2, 0, 0]))


def test_struct_break_expires_after_the_window(make_series: MakeSeries) -> None:
    h, lo, c = _arrays(SCENARIO[:5] + [(12.3, 12.0, 12.1)] * 6)
    p = dataclasses.replace(SMALL, break_window=3)
    f = compute_features(make_series(h, lo, c), p)
    assert f[4:, COL["struct_break"]].tolist() == [2, 2, 2, 0, 0, 0, 0]
    logs = f[4:, COL["log_bars_since_break"]]
    np.testing.assert_array_equal(logs, np.log1p([0, 1, 2, 3, 3, 3, 3]))


def test_a_newer_lower_swing_high_replaces_the_older_one() -> None:
    rows = [
        (10.0, 9.0, 9.5),
        (12.0, 10.0, 11.0),  # pivot high 12, confirmed at 2
        (11.0, 9.5, 10.0),
        (11.5, 9.8, 10.5),  # pivot high 11.5, confirmed at 4 (lower than 12)
        (11.0, 9.9, 10.2),
        (11.8, 10.0, 11.7),  # closes above 11.5 but below 12: breaks the newer high
    ]
    h, lo, c = _arrays(rows)
    s = structure(h, lo, c, 1, 1)
    assert s.event[5] == 2 and s.broken_pivot[5] == 3 and s.broken_level[5] == 11.5


def test_order_blocks_are_stamped_at_the_break_and_invalidated_by_a_close_below() -> None:
    h, lo, c = _arrays(SCENARIO)
    s = structure(h, lo, c, 1, 1)
    ob = order_blocks(h, lo, c, s)
    assert ob.created.tolist() == [4, 7, 8]
    assert ob.direction.tolist() == [1, 1, -1]
    # bull block of the break at 4: lowest low strictly between pivot 1 and bar 4 is bar 2
    assert ob.candle.tolist() == [2, 6, 7]
    assert ob.bottom.tolist() == [8.0, 11.5, 11.6]
    assert ob.top.tolist() == [11.0, 12.0, 14.0]
    # both bull blocks die at bar 8 (close 7.5 below their lows); the bear block lives on
    assert ob.end.tolist() == [8, 8, 9] and ob.end_reason.tolist() == [1, 1, 0]
    assert ob.mitigated.tolist() == [5, 8, -1]


def test_a_close_equal_to_the_block_low_does_not_invalidate_it() -> None:
    rows = [*SCENARIO[:8], (12.0, 7.9, 8.0)]  # close == 8.0, the first block's bottom
    h, lo, c = _arrays(rows)
    ob = order_blocks(h, lo, c, structure(h, lo, c, 1, 1))
    assert ob.end[0] == 9 and ob.end_reason[0] == 0
    assert ob.end[1] == 8 and ob.end_reason[1] == 1  # 8.0 < 11.5


def test_order_blocks_expire_after_max_age() -> None:
    h, lo, c = _arrays(SCENARIO)
    ob = order_blocks(h, lo, c, structure(h, lo, c, 1, 1), max_age=3)
    assert ob.end[0] == 7 and ob.end_reason[0] == 2  # lives on bars 4, 5, 6


def test_ob_balance_by_hand() -> None:
    h, lo, c = _arrays(SCENARIO)
    ob = order_blocks(h, lo, c, structure(h, lo, c, 1, 1))
    atr = np.ones(c.size)
    atr[:2] = np.nan
    bal = ob_balance(c, atr, ob, 10.0)
    assert np.isnan(bal[:2]).all()
    assert bal[2:4].tolist() == [0.0, 0.0]  # no block at all
    expected = [10 - (12.2 - 11), 10 - (12.8 - 11), 10 - (11.8 - 11), 10 - (13.5 - 12)]
    np.testing.assert_allclose(bal[4:8], expected, rtol=0, atol=1e-12)
    # bar 8: the bull blocks are gone, a bear block 11.6 above the close
    assert bal[8] == pytest.approx((11.6 - 7.5) - 10.0, abs=1e-12)


def test_ob_balance_feature_uses_the_same_blocks(make_series: MakeSeries) -> None:
    h, lo, c = _arrays(SCENARIO)
    series = make_series(h, lo, c)
    f = compute_features(series, SMALL)
    atr = f[:, COL["atr_pct"]] * c
    expected = ob_balance(c, atr, order_blocks(h, lo, c, structure(h, lo, c, 1, 1)), 10.0)
    np.testing.assert_allclose(f[:, COL["ob_balance_atr"]], expected, rtol=1e-12)
    state = FeatureState(SMALL)
    rows = np.array([state.update(series.candle(i)) for i in range(len(series))])
    np.testing.assert_array_equal(rows, f)


def _incremental_structure(
    h: np.ndarray, lo: np.ndarray, c: np.ndarray, left: int, right: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events and the created blocks' (top, bottom) from the step functions."""
    piv = np.zeros(pivot_state_size(left, right))
    sst = struct_state_init()
    events = np.zeros(c.size, dtype=np.int64)
    tops, bottoms = [], []
    for t in range(c.size):
        ph, pl = pivot_step(piv, h[t], lo[t], left, right)
        ev, bt, bb, st_, sb = break_step(sst, t, h[t], lo[t], c[t])
        events[t] = ev
        for top, bot in ((bt, bb), (st_, sb)):
            if top == top:
                tops.append(top)
                bottoms.append(bot)
        confirm_step(sst, piv, t, ph, pl, left, right)
    return events, np.array(tops), np.array(bottoms)


def _check_against_incremental(s: CandleSeries, left: int, right: int) -> int:
    struct = structure(s.high, s.low, s.close, left, right)
    ob = order_blocks(s.high, s.low, s.close, struct)
    events, tops, bottoms = _incremental_structure(s.high, s.low, s.close, left, right)
    np.testing.assert_array_equal(struct.event, events)
    np.testing.assert_array_equal(ob.top, tops)
    np.testing.assert_array_equal(ob.bottom, bottoms)
    return int(np.count_nonzero(events))


def test_incremental_structure_equals_batch_on_real_data(
    sample: dict[str, CandleSeries],
) -> None:
    for s in sample.values():
        assert _check_against_incremental(s, 5, 5) > 200


def _check_invariants(h: np.ndarray, lo: np.ndarray, c: np.ndarray, left: int, right: int) -> None:
    piv = swings(h, lo, left, right)
    s = structure(h, lo, c, left, right, piv)
    for t in np.flatnonzero(s.event):
        side = 1 if s.event[t] > 0 else -1
        p = s.broken_pivot[t]
        assert p + right <= t - 1  # confirmed before the breaking bar
        pivots = piv.high_pivot if side > 0 else piv.low_pivot
        assert pivots[:t][pivots[:t] >= 0][-1] == p  # the latest confirmed of its side
        assert s.broken_level[t] == (h[p] if side > 0 else lo[p])
        assert side * (c[t] - s.broken_level[t]) > 0
        prev = s.trend[t - 1]
        assert abs(s.event[t]) == (1 if prev == side else 2)
    ob = order_blocks(h, lo, c, s)
    for i in range(ob.created.size):
        t, k, d = ob.created[i], ob.candle[i], ob.direction[i]
        p = s.broken_pivot[t]
        assert p < k < t and ob.bottom[i] <= ob.top[i]
        seg = lo[p + 1 : t] if d > 0 else -h[p + 1 : t]
        assert (lo[k] if d > 0 else -h[k]) == seg.min()
        assert (seg[k - p :] > seg.min()).all()  # the latest of equal extremes
        e = ob.end[i]
        alive = c[t + 1 : min(e, c.size)]
        assert ((alive >= ob.bottom[i]) if d > 0 else (alive <= ob.top[i])).all()
        if ob.end_reason[i] == 1:
            assert c[e] < ob.bottom[i] if d > 0 else c[e] > ob.top[i]


def test_invariants_on_real_data(sample: dict[str, CandleSeries]) -> None:
    s = sample["DOGEUSDT"].slice(0, 5000)
    _check_invariants(s.high, s.low, s.close, 5, 5)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 400), seed=st.integers(0, 2**32 - 1), lr=st.sampled_from([1, 2, 5]))
def test_invariants_and_incremental_on_coarse_random_prices(n: int, seed: int, lr: int) -> None:
    rng = np.random.default_rng(seed)
    mid = 100.0 + np.cumsum(rng.integers(-2, 3, n)).astype(np.float64)
    h = mid + rng.integers(0, 3, n)
    lo = mid - rng.integers(0, 3, n)
    c = np.clip(mid + rng.integers(-2, 3, n), lo, h)
    _check_invariants(h, lo, c, lr, lr)
    series = CandleSeries("R", "1m", np.arange(n, dtype=np.int64) * 60_000, c, h, lo, c, c)
    _check_against_incremental(series, lr, lr)
