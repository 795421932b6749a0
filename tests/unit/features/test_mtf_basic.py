"""Causal resampling and `mtf_trend`; the volume, volatility and momentum features."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain.candle import HOUR_MS, MINUTE_MS, CandleSeries
from slt.features import DEFAULT_PARAMS, FEATURE_NAMES, FeatureState, compute_features, resample
from slt.features.primitives import atr

MakeSeries = Callable[..., CandleSeries]
RandomWalk = Callable[..., CandleSeries]
COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
FIVE = 5 * MINUTE_MS


def _naive(s: CandleSeries, period: int) -> list[tuple[float, ...]]:
    """Group by bucket in plain Python; visibility from the rule's wording."""
    n = len(s)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(int(s.open_time[i]) // period * period, []).append(i)
    rows = []
    for start, idx in groups.items():
        last = idx[-1]
        # first base bar whose close time (open + 1m - 1) is >= T + P - 1
        later = [i for i in range(n) if s.open_time[i] + MINUTE_MS - 1 >= start + period - 1]
        visible = later[0] if later else n
        rows.append(
            (
                start,
                s.open[idx[0]],
                max(s.high[i] for i in idx),
                min(s.low[i] for i in idx),
                s.close[last],
                sum(s.volume[i] for i in idx),
                idx[0],
                last,
                visible,
            )
        )
    return rows


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
    period=st.sampled_from([FIVE, 15 * MINUTE_MS, HOUR_MS]),
    gap_rate=st.sampled_from([0.0, 0.05, 0.3]),
)
def test_resample_equals_a_naive_grouping(
    random_walk: RandomWalk, n: int, seed: int, period: int, gap_rate: float
) -> None:
    s = random_walk(n, seed, gap_rate=gap_rate)
    rs = resample(s.open_time, s.open, s.high, s.low, s.close, s.volume, period)
    got = list(zip(*rs, strict=True))
    want = _naive(s, period)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.array(g, dtype=np.float64), np.array(w), rtol=1e-12)


def test_a_candle_becomes_visible_at_the_minute_that_completes_it(
    random_walk: RandomWalk,
) -> None:
    s = random_walk(23, 1)
    ot = s.open_time - s.open_time[0] + 1_704_067_200_000  # aligned to 5m
    rs = resample(ot, s.open, s.high, s.low, s.close, s.volume, FIVE)
    assert rs.visible.tolist() == [4, 9, 14, 19, 23]  # the last bucket (20..22) is incomplete
    assert rs.close.tolist() == s.close[[4, 9, 14, 19, 22]].tolist()
    # without the minute that completes the first bucket, the next bar present reveals it
    keep = np.arange(23) != 4
    rs = resample(
        ot[keep], s.open[keep], s.high[keep], s.low[keep], s.close[keep], s.volume[keep], FIVE
    )
    assert rs.visible[:2].tolist() == [4, 8] and rs.last[0] == 3


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 600), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_resampling_truncated_data_gives_the_same_visible_candles(
    random_walk: RandomWalk, n: int, seed: int, data: st.DataObject
) -> None:
    s = random_walk(n, seed, gap_rate=0.1)
    t = data.draw(st.integers(0, n - 1))
    period = data.draw(st.sampled_from([FIVE, 15 * MINUTE_MS, HOUR_MS]))
    full = resample(s.open_time, s.open, s.high, s.low, s.close, s.volume, period)
    k = t + 1
    cut = resample(
        s.open_time[:k], s.open[:k], s.high[:k], s.low[:k], s.close[:k], s.volume[:k], period
    )
    seen_full = full.visible <= t
    seen_cut = cut.visible <= t
    for a, b in zip(full, cut, strict=True):
        np.testing.assert_array_equal(a[seen_full], b[seen_cut])


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 3000), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_fast_mtf_trend_ignores_later_candles(
    random_walk: RandomWalk, n: int, seed: int, data: st.DataObject
) -> None:
    """EMA1 vs EMA2 flips with almost every candle, so a one-minute leak would show."""
    p = dataclasses.replace(DEFAULT_PARAMS, ema_fast=1, ema_slow=2)
    s = random_walk(n, seed, gap_rate=data.draw(st.sampled_from([0.0, 0.05])))
    full = compute_features(s, p)[:, COL["mtf_trend"]]
    for t in data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=8)):
        cut = compute_features(s.slice(0, t + 1), p)[:, COL["mtf_trend"]]
        np.testing.assert_array_equal(cut, full[: t + 1])


def _trend_series(n: int, slope: float, make_series: MakeSeries) -> CandleSeries:
    close = 100.0 + slope * np.arange(n)
    return make_series(close + 0.05, close - 0.05, close)


def test_mtf_trend_needs_fifty_completed_hours(make_series: MakeSeries) -> None:
    s = _trend_series(3100, 0.01, make_series)
    f = compute_features(s)[:, COL["mtf_trend"]]
    assert np.isnan(f[:2999]).all()  # the 50th 1h candle completes at the close of bar 2999
    assert (f[2999:] == 1.0).all()
    down = compute_features(_trend_series(3100, -0.01, make_series))[:, COL["mtf_trend"]]
    assert (down[2999:] == -1.0).all()


def test_mtf_trend_changes_only_when_a_higher_candle_completes(
    sample: dict[str, CandleSeries],
) -> None:
    s = sample["LTCUSDT"]
    f = compute_features(s)[:, COL["mtf_trend"]]
    values = set(np.unique(f[~np.isnan(f)]).round(12))
    assert values <= {-1.0, round(-1 / 3, 12), round(1 / 3, 12), 1.0}
    assert len(values) == 4
    changed = np.flatnonzero(f[1:] != f[:-1]) + 1
    changed = changed[~np.isnan(f[changed]) & ~np.isnan(f[changed - 1])]
    assert changed.size > 50
    assert ((s.open_time[changed] + MINUTE_MS) % FIVE == 0).all()


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 4000),
    seed=st.integers(0, 2**32 - 1),
    gap_rate=st.sampled_from([0.0, 0.02, 0.2]),
)
def test_mtf_batch_equals_incremental_with_gaps(
    random_walk: RandomWalk, n: int, seed: int, gap_rate: float
) -> None:
    p = dataclasses.replace(DEFAULT_PARAMS, ema_fast=3, ema_slow=5)  # short warm-up
    s = random_walk(n, seed, gap_rate=gap_rate)
    batch = compute_features(s, p)[:, COL["mtf_trend"]]
    inc = FeatureState(p).replay(s)[:, COL["mtf_trend"]]
    np.testing.assert_array_equal(batch, inc)


def test_vol_z_matches_a_direct_computation(sample: dict[str, CandleSeries]) -> None:
    s = sample["ADAUSDT"]
    f = compute_features(s)[:, COL["vol_z"]]
    assert np.isnan(f[:59]).all()
    x = np.log1p(s.volume)
    for t in (59, 60, 1000, len(s) - 1):
        w = x[t - 59 : t + 1]
        z = np.clip((x[t] - w.mean()) / w.std(), -5, 5)
        assert abs(f[t] - z) < 1e-9
    assert np.nanmax(np.abs(f)) <= 5.0


def test_vol_z_of_a_flat_window_is_zero(make_series: MakeSeries) -> None:
    close = np.full(80, 10.0)
    f = compute_features(make_series(close + 1, close - 1, close, volume=np.full(80, 123.456)))
    assert (f[59:, COL["vol_z"]] == 0.0).all()
    f = compute_features(make_series(close + 1, close - 1, close, volume=np.zeros(80)))
    assert (f[59:, COL["vol_z"]] == 0.0).all()


def test_vol_z_of_a_barely_moving_window_is_not_flattened(make_series: MakeSeries) -> None:
    close = np.full(80, 10.0)
    volume = np.where(np.arange(80) % 2 == 0, 100.0, 100.001)  # log-volume std ~ 5e-6
    f = compute_features(make_series(close + 1, close - 1, close, volume=volume))
    z = f[59:, COL["vol_z"]]
    np.testing.assert_allclose(np.abs(z), 1.0, rtol=1e-6)


def test_atr_pct_and_ret_k_norm(sample: dict[str, CandleSeries]) -> None:
    s = sample["BTCUSDT"]
    f = compute_features(s)
    a = atr(s.high, s.low, s.close)
    np.testing.assert_array_equal(f[:, COL["atr_pct"]], a / s.close)
    r = f[:, COL["ret_k_norm"]]
    assert np.isnan(r[:15]).all()
    expected = (s.close[15:] - s.close[:-15]) / (a[15:] * np.sqrt(15))
    np.testing.assert_allclose(r[15:], expected, rtol=1e-13)


def test_atr_scaled_features_are_nan_where_atr_is_zero(make_series: MakeSeries) -> None:
    close = np.full(40, 10.0)
    f = compute_features(make_series(close, close, close))  # no range at all: ATR = 0
    for name in ("fvg_dist_atr", "ob_balance_atr", "ret_k_norm"):
        assert np.isnan(f[:, COL[name]]).all(), name
    assert (f[13:, COL["atr_pct"]] == 0.0).all()
