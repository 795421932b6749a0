"""Training is reproducible to the byte, and early stopping never sees its own training rows."""

from __future__ import annotations

import numpy as np
import pytest

from slt.config import FeeConfig, RiskConfig
from slt.model.config import XgbParams
from slt.model.dataset import Dataset, build_dataset
from slt.model.errors import TrainingError
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams
from slt.model.train import early_stopping_split, fit, load_booster, predict

from .conftest import MINUTE, random_walk

H = 15
PARAMS = LabelParams.from_config(RiskConfig(), FeeConfig(), H)
XGB = XgbParams(num_boost_round=60, early_stopping_rounds=10, nthread=1)


@pytest.fixture
def ds(standin: FeatureSpec) -> Dataset:
    series = [random_walk(f"S{i}USDT", 2500, 10 + i) for i in range(3)]
    return build_dataset(series, standin, PARAMS)


def _fit(ds: Dataset, params: XgbParams = XGB) -> bytes:
    return fit(ds, params, eval_fraction=0.2, gap_ms=H * MINUTE, winsor_quantile=0.001).model


def test_same_data_gives_bit_identical_model_bytes(peeking: FeatureSpec) -> None:
    """On data with something to learn (many trees, row and column subsampling in play)."""

    def data() -> Dataset:
        return build_dataset(
            [random_walk(f"S{i}USDT", 2500, 10 + i) for i in range(3)], peeking, PARAMS
        )

    first = fit(data(), XGB, eval_fraction=0.2, gap_ms=H * MINUTE, winsor_quantile=0.001)
    assert first.best_iteration >= 20
    again = fit(data(), XGB, eval_fraction=0.2, gap_ms=H * MINUTE, winsor_quantile=0.001)
    assert again.model == first.model
    reseeded = XgbParams(num_boost_round=60, early_stopping_rounds=10, nthread=1, seed=1)
    assert _fit(data(), reseeded) != first.model
    # Two threads: histogram building is parallel, and still deterministic.
    two = XgbParams(num_boost_round=60, early_stopping_rounds=10, nthread=2)
    assert _fit(data(), two) == _fit(data(), two)


def test_early_stopping_watches_only_the_end_of_the_window_after_a_gap(ds: Dataset) -> None:
    gap = H * MINUTE
    train, evaluate, cut = early_stopping_split(ds, 0.2, gap)
    assert not (train & evaluate).any()
    assert (ds.time_ms[evaluate] >= cut).all()
    assert (ds.label_end_ms[train] + gap <= cut).all()
    assert ds.time_ms[train].max() < cut - gap
    share = evaluate.mean()
    assert 0.17 < share < 0.23
    # Purged rows (labels ending within the gap of the cut) are in neither set.
    dropped = ~train & ~evaluate
    assert dropped.any() and (ds.label_end_ms[dropped] + gap > cut).all()


def test_the_saved_model_stops_at_the_best_iteration(ds: Dataset) -> None:
    result = fit(ds, XGB, eval_fraction=0.2, gap_ms=H * MINUTE, winsor_quantile=0.001)
    booster = load_booster(result.model)
    assert booster.num_boosted_rounds() == result.best_iteration + 1
    assert result.train_rows > 0 and result.eval_rows > 0
    assert result.first_ms == ds.first_ms and result.last_ms == ds.last_ms
    pred = predict(booster, ds.x[:100])
    assert pred.dtype == np.float64 and np.isfinite(pred).all()
    assert np.array_equal(pred, predict(load_booster(result.model), ds.x[:100]))


def test_too_little_data_is_a_training_error(ds: Dataset) -> None:
    with pytest.raises(TrainingError, match="training window too small"):
        fit(ds.take(np.arange(100)), XGB, eval_fraction=0.2, gap_ms=H * MINUTE, winsor_quantile=0)
    with pytest.raises(TrainingError, match="no training rows"):
        fit(
            ds.take(np.zeros(len(ds), dtype=bool)),
            XGB,
            eval_fraction=0.2,
            gap_ms=0,
            winsor_quantile=0,
        )
