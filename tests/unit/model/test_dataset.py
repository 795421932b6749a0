"""The training set: one row per bar and direction, in time order, with uniqueness weights,
the right label on every row, and a fingerprint that changes with any candle byte."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from slt.config import FeeConfig, RiskConfig
from slt.model.dataset import (
    DIRECTION,
    build_dataset,
    data_fingerprint,
    uniqueness_weights,
    winsor_bounds,
)
from slt.model.errors import ModelError
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams, forward_labels

from .conftest import MINUTE, random_walk

PARAMS = LabelParams.from_config(RiskConfig(), FeeConfig(), 15)


def test_uniqueness_weights_by_hand() -> None:
    """Rows 0..5; labels spanning [0,1], [1,2], [3,3]: bar 1 is shared by two labels."""
    w = uniqueness_weights(np.array([0, 1, 3]), np.array([1, 2, 3]), 6)
    assert w.tolist() == pytest.approx([(1 + 0.5) / 2, (0.5 + 1) / 2, 1.0])
    # A quiet stretch where every label runs its full horizon H: weights ≈ 1/H.
    n, h = 400, 15
    start = np.arange(n - h)
    w = uniqueness_weights(start, start + h - 1, n)
    assert w[h:-h] == pytest.approx(np.full(n - 3 * h, 1 / h))


def test_rows_carry_their_own_label_time_and_direction(standin: FeatureSpec) -> None:
    a, b = random_walk("AAAUSDT", 600, 1), random_walk("BBBUSDT", 500, 2, start_ms=10 * MINUTE)
    ds = build_dataset([a, b], standin, PARAMS)
    assert ds.feature_names == (*standin.names, DIRECTION)
    assert ds.x.shape == (len(ds), 13)
    assert np.all(np.diff(ds.time_ms) >= 0), "rows are in time order"
    assert set(np.unique(ds.direction)) == {-1.0, 1.0}
    for sid, series in enumerate((a, b)):
        labels = forward_labels(series, PARAMS)
        mine = ds.symbol_id == sid
        rows = np.searchsorted(series.open_time, ds.time_ms[mine])
        long = ds.direction[mine] > 0
        expected = np.where(long, labels.long[rows], labels.short[rows])
        assert np.array_equal(ds.y[mine], expected)
        end = np.where(long, labels.long_end[rows], labels.short_end[rows])
        assert np.array_equal(ds.label_end_ms[mine], series.open_time[end])
        feats = standin.compute(series)[rows]
        assert np.array_equal(ds.x[mine][:, :-1], feats, equal_nan=True)
    assert np.isfinite(ds.y).all()
    assert (ds.label_end_ms > ds.time_ms).all()
    assert ((ds.weight > 0) & (ds.weight <= 1)).all()
    # Per symbol and direction: the last bars, whose trade is still open at the end, are absent.
    last_a = ds.time_ms[ds.symbol_id == 0].max()
    assert last_a < a.open_time[-1]


def test_since_ms_keeps_the_warm_features_of_the_window(standin: FeatureSpec) -> None:
    s = random_walk("AAAUSDT", 400, 3)
    full = build_dataset([s], standin, PARAMS)
    cut = int(s.open_time[200])
    part = build_dataset([s], standin, PARAMS, since_ms=cut)
    assert part.first_ms == cut
    keep = full.time_ms >= cut
    assert np.array_equal(part.x, full.x[keep], equal_nan=True)
    assert np.array_equal(part.y, full.y[keep])
    assert part.fingerprint == full.fingerprint


def test_fingerprint_changes_with_any_candle_byte() -> None:
    s = random_walk("AAAUSDT", 300, 4)
    base = data_fingerprint([s])
    assert base == data_fingerprint([random_walk("AAAUSDT", 300, 4)])
    assert len(base) == 64
    for field in ("open", "high", "low", "close", "volume"):
        col = getattr(s, field).copy()
        col[123] = np.nextafter(col[123], np.inf)
        assert data_fingerprint([replace(s, **{field: col})]) != base, field
    times = s.open_time.copy()
    times[-1] += 1
    assert data_fingerprint([replace(s, open_time=times)]) != base
    assert data_fingerprint([replace(s, symbol="BBBUSDT")]) != base
    # Order of the list does not matter; the content does.
    t = random_walk("BBBUSDT", 300, 5)
    assert data_fingerprint([s, t]) == data_fingerprint([t, s])


def test_bad_inputs_are_refused(standin: FeatureSpec) -> None:
    s = random_walk("AAAUSDT", 100, 6)
    with pytest.raises(ModelError, match="appears twice"):
        build_dataset([s, s], standin, PARAMS)
    with pytest.raises(ModelError, match="mixes intervals"):
        build_dataset([s, replace(random_walk("B", 100, 7), interval="5m")], standin, PARAMS)
    with pytest.raises(ModelError, match="no candles"):
        build_dataset([], standin, PARAMS)
    narrow = FeatureSpec(standin.names, 0, "x", lambda ser: np.zeros((len(ser), 3)))
    with pytest.raises(ModelError, match=r"shape \(100, 3\)"):
        build_dataset([s], narrow, PARAMS)


def test_winsor_bounds_come_from_the_rows_given() -> None:
    y = np.r_[np.linspace(-0.01, 0.01, 998), -0.5, 0.7]
    lo, hi = winsor_bounds(y, 0.001)
    assert -0.5 < lo <= -0.0099 and 0.0099 <= hi < 0.7
    assert winsor_bounds(y, 0.0) == (-np.inf, np.inf)
