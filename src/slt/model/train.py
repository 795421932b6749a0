"""Fitting one XGBoost regressor, reproducibly, with honest early stopping.

Native API (`xgboost.train` on a `DMatrix`), histogram trees, a fixed seed and a fixed thread
count: the same rows give the same model bytes. Early stopping watches only the last
`eval_fraction` of the training window, and training rows stop a gap of H bars before it
(their labels are known before the first eval row is decided). The eval set is the only
watched set, so it is the one driving early stopping, and it is never the training set.
Winsorisation bounds are fitted on the training rows only and applied to both parts; the
saved model is cut at the best iteration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from slt.domain.candle import F64
from slt.model.config import XgbParams
from slt.model.dataset import Dataset, winsor_bounds
from slt.model.errors import TrainingError

MIN_TRAIN_ROWS = 200
MIN_EVAL_ROWS = 50

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class TrainResult:
    """A fitted model (xgboost UBJ bytes) and what produced it. Times int UTC ms."""

    model: bytes
    best_iteration: int
    train_rows: int
    eval_rows: int
    eval_rmse: float
    winsor_low: float
    winsor_high: float
    first_ms: int
    last_ms: int
    cut_ms: int


def early_stopping_split(ds: Dataset, eval_fraction: float, gap_ms: int) -> tuple[Mask, Mask, int]:
    """(train, eval, cut_ms): eval = rows decided at or after the cut at the last
    `eval_fraction` of the window's time span; train = rows whose label is known `gap_ms`
    before the cut."""
    if len(ds) == 0:
        raise TrainingError("no training rows: the window holds no bar with a realised label")
    span = ds.last_ms - ds.first_ms
    cut = ds.first_ms + math.ceil((1.0 - eval_fraction) * span)
    evaluate = ds.time_ms >= cut
    train = ds.label_end_ms + gap_ms <= cut
    return train, evaluate, cut


def fit(
    ds: Dataset,
    params: XgbParams,
    *,
    eval_fraction: float,
    gap_ms: int,
    winsor_quantile: float,
) -> TrainResult:
    """Train on `ds` (one training window). Raises `TrainingError` when it is too small."""
    train, evaluate, cut = early_stopping_split(ds, eval_fraction, gap_ms)
    n_train, n_eval = int(train.sum()), int(evaluate.sum())
    if n_train < MIN_TRAIN_ROWS or n_eval < MIN_EVAL_ROWS:
        raise TrainingError(
            f"training window too small: {n_train} training rows (need {MIN_TRAIN_ROWS}) and "
            f"{n_eval} early-stopping rows (need {MIN_EVAL_ROWS}); train on more days of data"
        )
    lo, hi = winsor_bounds(ds.y[train], winsor_quantile)
    names = list(ds.feature_names)
    dtrain = _matrix(ds, train, lo, hi, names, params.nthread)
    deval = _matrix(ds, evaluate, lo, hi, names, params.nthread)
    booster = xgb.train(
        params.booster_params(),
        dtrain,
        num_boost_round=params.num_boost_round,
        evals=[(deval, "eval")],
        early_stopping_rounds=params.early_stopping_rounds,
        verbose_eval=False,
    )
    best = int(booster.best_iteration)
    final = booster[: best + 1]
    score = float(booster.best_score)
    return TrainResult(
        model=bytes(final.save_raw("ubj")),
        best_iteration=best,
        train_rows=n_train,
        eval_rows=n_eval,
        eval_rmse=score,
        winsor_low=lo,
        winsor_high=hi,
        first_ms=ds.first_ms,
        last_ms=ds.last_ms,
        cut_ms=cut,
    )


def _matrix(
    ds: Dataset, rows: Mask, lo: float, hi: float, names: list[str], nthread: int
) -> xgb.DMatrix:
    return xgb.DMatrix(
        ds.x[rows],
        label=np.clip(ds.y[rows], lo, hi),
        weight=ds.weight[rows],
        feature_names=names,
        missing=np.nan,
        nthread=nthread,
    )


def load_booster(model: bytes, nthread: int = 1) -> xgb.Booster:
    """A booster from UBJ (or JSON) model bytes."""
    booster = xgb.Booster(params={"nthread": nthread})
    booster.load_model(bytearray(model))
    return booster


def predict(booster: xgb.Booster, x: F64) -> F64:
    """Predictions for rows of `x` (NaN = missing), as float64."""
    if x.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    out = booster.inplace_predict(np.ascontiguousarray(x, dtype=np.float64), missing=np.nan)
    return np.asarray(out, dtype=np.float64)
