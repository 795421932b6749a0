"""Out-of-sample metrics against values worked out by hand or by a slow reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain.candle import DAY_MS
from slt.model.metrics import evaluate, rank_average, spearman


def test_ranks_share_ties() -> None:
    assert rank_average(np.array([10.0, 30.0, 20.0, 20.0])).tolist() == [1.0, 4.0, 2.5, 2.5]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 5), st.integers(-5, 5)), min_size=3, max_size=40))
def test_spearman_is_pearson_of_average_ranks(pairs: list[tuple[int, int]]) -> None:
    a = np.array([p[0] for p in pairs], dtype=float)
    b = np.array([p[1] for p in pairs], dtype=float)

    def slow_rank(v: np.ndarray) -> np.ndarray:
        return np.array([np.sum(v < x) + (np.sum(v == x) + 1) / 2 for x in v])

    ra, rb = slow_rank(a), slow_rank(b)
    if ra.std() == 0 or rb.std() == 0:
        assert math.isnan(spearman(a, b))
    else:
        assert spearman(a, b) == pytest.approx(float(np.corrcoef(ra, rb)[0, 1]), abs=1e-12)


def test_spearman_extremes() -> None:
    x = np.arange(10.0)
    assert spearman(x, x**3) == pytest.approx(1.0)
    assert spearman(x, -x) == pytest.approx(-1.0)
    assert math.isnan(spearman(x[:2], x[:2]))


def test_daily_ic_accuracy_and_deciles_by_hand() -> None:
    # Day 0: prediction ranks agree perfectly; day 1: perfectly reversed; day 2: agree.
    base = np.arange(10.0) - 4.5
    pred = np.concatenate([base, base, base])
    label = np.concatenate([base / 100, -base / 100, base / 100])
    day = np.repeat(np.arange(3), 10)
    t = day * DAY_MS + 1000
    m = evaluate(pred, label, t, min_rows_per_day=5)
    assert m.days == 3
    assert m.ic_daily_mean == pytest.approx(1 / 3)
    std = float(np.std([1.0, -1.0, 1.0], ddof=1))
    assert m.ic_daily_std == pytest.approx(std)
    assert m.ic_daily_t == pytest.approx((1 / 3) / (std / math.sqrt(3)))
    assert m.hit_rate == pytest.approx(20 / 30)
    # Top decile = the 3 highest predictions (4.5 on each day): labels 0.045, −0.045, 0.045.
    assert m.top_decile_return == pytest.approx(0.015)
    assert m.bottom_decile_return == pytest.approx(-0.015)
    assert m.rows == 30


def test_direction_accuracy_pairs_the_long_and_short_of_each_bar() -> None:
    # Two bars of one symbol, one bar of another; rows shuffled on purpose.
    time = np.array([0, 0, 60_000, 60_000, 0, 0], dtype=np.int64)
    sym = np.array([0, 0, 0, 0, 1, 1], dtype=np.int64)
    direction = np.array([1.0, -1.0, -1.0, 1.0, 1.0, -1.0])
    label = np.array([0.01, -0.012, 0.004, -0.006, -0.002, 0.001])
    pred = np.array([0.2, 0.1, -0.1, 0.3, 0.0, 0.0])  # right, wrong, tie (skipped)
    m = evaluate(pred, label, time, direction=direction, symbol_id=sym, min_rows_per_day=3)
    assert (m.direction_accuracy, m.direction_bars) == (0.5, 2)
    # Per side: long predictions 0.2, 0.3, 0.0 vs labels 0.01, −0.006, −0.002.
    assert m.ic_long == pytest.approx(spearman(pred[direction > 0], label[direction > 0]))
    assert m.ic_long == pytest.approx(-0.5) and m.ic_short == pytest.approx(-1.0)


def test_zero_labels_do_not_count_for_accuracy_and_small_days_get_no_ic() -> None:
    pred = np.array([0.1, -0.1, 0.2, 0.3])
    label = np.array([0.0, -0.01, 0.0, -0.02])
    m = evaluate(pred, label, np.zeros(4, dtype=np.int64), min_rows_per_day=30)
    assert (m.hit_rows, m.hit_rate, m.hit_base_rate) == (2, 0.5, 1.0)
    assert m.days == 0 and math.isnan(m.ic_daily_mean)
    d = m.to_dict()
    assert d["ic_daily_mean"] is None and d["hit_rate"] == 0.5


def test_empty_input_gives_nan_metrics() -> None:
    m = evaluate(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64))
    assert m.rows == 0 and math.isnan(m.ic)
