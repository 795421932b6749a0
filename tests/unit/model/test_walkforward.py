"""Walk-forward evaluation: purging and embargo by construction and by property, and the
honesty checks of the whole pipeline — a random walk and permuted labels give IC ≈ 0, while a
deliberately leaked feature lights the metrics up (so they can detect anything at all)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import FeeConfig, RiskConfig
from slt.model import walkforward
from slt.model.config import XgbParams
from slt.model.dataset import Dataset, build_dataset
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams
from slt.model.walkforward import WalkForwardResult, fold_bounds, purged_train_mask, walk_forward

from .conftest import MINUTE, random_walk

H = 15
PARAMS = LabelParams.from_config(RiskConfig(), FeeConfig(), H)
XGB = XgbParams(num_boost_round=60, early_stopping_rounds=10, nthread=1)


def synthetic(times: np.ndarray, spans: np.ndarray) -> Dataset:
    n = times.size
    order = np.argsort(times, kind="mergesort")
    t = times[order].astype(np.int64)
    return Dataset(
        x=np.zeros((n, 2)),
        y=np.zeros(n),
        weight=np.ones(n),
        time_ms=t,
        label_end_ms=t + spans[order].astype(np.int64),
        symbol_id=np.zeros(n, dtype=np.int64),
        symbols=("X",),
        feature_names=("f", "direction"),
        interval_ms=MINUTE,
        fingerprint="",
    )


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 5_000), st.integers(1, 2 * H + 1)), min_size=1, max_size=300
    ),
    folds=st.integers(1, 6),
    test_fraction=st.floats(0.05, 0.9),
    embargo_bars=st.integers(H, 3 * H),
)
def test_no_training_label_overlaps_its_test_fold(
    rows: list[tuple[int, int]], folds: int, test_fraction: float, embargo_bars: int
) -> None:
    ds = synthetic(np.array([r[0] for r in rows]) * MINUTE, np.array([r[1] for r in rows]) * MINUTE)
    embargo = embargo_bars * MINUTE
    bounds = fold_bounds(ds.first_ms, ds.last_ms, folds, test_fraction)
    for start, end in bounds:
        train = purged_train_mask(ds, start, embargo)
        # A label window is [decision bar open, last fill]; none may reach into [start, end),
        # and each ends at least the embargo before the test block.
        assert (ds.label_end_ms[train] + embargo <= start).all()
        assert not ((ds.time_ms[train] < end) & (ds.label_end_ms[train] >= start)).any()
        # Purging drops only what it must.
        assert (train == (ds.label_end_ms + embargo <= start)).all()
    # Test blocks are consecutive, inside the data, and end with its last row.
    if bounds:
        assert bounds[-1][1] == ds.last_ms + 1
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        assert bounds[0][0] >= ds.first_ms


def test_fold_bounds_split_the_tail_evenly() -> None:
    assert fold_bounds(0, 999, 4, 0.4) == [(600, 700), (700, 800), (800, 900), (900, 1000)]
    assert fold_bounds(0, 999, 0, 0.4) == []


@pytest.fixture(scope="module")
def walk_data() -> list[Any]:
    return [random_walk(f"S{i}USDT", 4000, 100 + i) for i in range(4)]


def _run(ds: Dataset, **kw: Any) -> WalkForwardResult:
    args: dict[str, Any] = {
        "folds": 3,
        "test_fraction": 0.45,
        "embargo_ms": H * MINUTE,
        "gap_ms": H * MINUTE,
        "eval_fraction": 0.2,
        "winsor_quantile": 0.001,
        "min_rows_per_day": 30,
    }
    args.update(kw)
    return walk_forward(ds, XGB, **args)


def test_walk_forward_trains_only_on_purged_rows(
    walk_data: list[Any], standin: FeatureSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = build_dataset(walk_data, standin, PARAMS)
    seen: list[Dataset] = []
    real_fit = walkforward.fit

    def spy(train: Dataset, *a: Any, **kw: Any) -> Any:
        seen.append(train)
        return real_fit(train, *a, **kw)

    monkeypatch.setattr(walkforward, "fit", spy)
    result = _run(ds, embargo_ms=2 * H * MINUTE)
    assert len(seen) == len(result.folds) == 3
    for train, fold in zip(seen, result.folds, strict=True):
        assert train.label_end_ms.max() + 2 * H * MINUTE <= fold.test_start_ms
    tested = ds.time_ms[result.rows]
    assert tested.min() >= result.folds[0].test_start_ms
    assert np.unique(result.rows).size == result.rows.size  # each test row predicted once
    with pytest.raises(ValueError, match="embargo"):
        _run(ds, embargo_ms=H * MINUTE - 1)


def test_random_walk_gives_no_information_coefficient(
    walk_data: list[Any], standin: FeatureSpec
) -> None:
    m = _run(build_dataset(walk_data, standin, PARAMS)).metrics
    assert m.rows > 5_000
    assert abs(m.ic) < 0.1
    assert 0.45 < m.direction_accuracy < 0.55 and m.direction_bars > 2_000
    # Net labels are mostly losses: sign accuracy is no better than always saying "loss".
    assert m.hit_rate <= m.hit_base_rate + 0.02


def test_permuted_labels_give_no_information_coefficient(
    walk_data: list[Any], peeking: FeatureSpec
) -> None:
    ds = build_dataset(walk_data, peeking, PARAMS)
    shuffled = replace(ds, y=np.random.default_rng(0).permutation(ds.y))
    assert abs(_run(shuffled).metrics.ic) < 0.1


def test_a_leaked_feature_is_found_positive_control(
    walk_data: list[Any], peeking: FeatureSpec
) -> None:
    m = _run(build_dataset(walk_data, peeking, PARAMS)).metrics
    assert m.ic > 0.3
    assert m.top_decile_return > m.bottom_decile_return
    assert m.direction_accuracy > 0.6
