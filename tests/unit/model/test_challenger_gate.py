"""The gate a challenger passes during a self-learning run: an IC too high for the size of its
holdout blocks it, an ordinary one does not, and gain concentration only warns."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from slt.model.checks import challenger_checks
from slt.model.config import XgbParams
from slt.model.dataset import Dataset
from slt.model.train import fit

NAMES = ("a", "b", "direction")


def _holdout(rows: int, weight: float) -> Dataset:
    rng = np.random.default_rng(7)
    return Dataset(
        x=rng.normal(size=(rows, 3)),
        y=rng.normal(size=rows),
        weight=np.full(rows, weight),
        time_ms=np.arange(rows, dtype=np.int64) * 60_000,
        label_end_ms=np.arange(rows, dtype=np.int64) * 60_000 + 60_000,
        symbol_id=np.zeros(rows, dtype=np.int64),
        symbols=("BTCUSDT",),
        feature_names=NAMES,
        interval_ms=60_000,
        fingerprint="f",
    )


@pytest.fixture(scope="module")
def model() -> bytes:
    data = _holdout(2_000, 1.0)
    y = data.x[:, 0] * 0.01 + data.y * 0.001  # one input carries the fit
    params = XgbParams(num_boost_round=20, early_stopping_rounds=5, nthread=1)
    trained = dataclasses.replace(data, y=y)
    return fit(trained, params, eval_fraction=0.2, gap_ms=0, winsor_quantile=0.0).model


@pytest.mark.parametrize(
    ("rows", "weight", "ic", "passed"),
    [
        (20_000, 1.0, 0.05, True),  # ordinary
        (20_000, 1.0, 0.15, False),  # n_eff 10k: SE 0.01, so 0.1 is the bound
        (400, 0.1, 0.15, True),  # n_eff 20: SE 0.23, chance reaches far beyond 0.1
        (400, 0.1, 0.95, False),  # but not beyond 4 SE
        (20_000, 1.0, float("nan"), True),  # no IC: nothing to alarm on (promotion needs one)
    ],
)
def test_the_ic_alarm_scales_with_the_holdout(
    model: bytes, rows: int, weight: float, ic: float, passed: bool
) -> None:
    report = challenger_checks("m-x", model, NAMES, _holdout(rows, weight), ic)
    assert report.get("ic_alarm").passed is passed
    assert report.passed is passed
    assert report.get("feature_importance").severity == "warn"
