"""Walk-forward evaluation with purging and an embargo.

The last `test_fraction` of the window's time span is cut into `folds` consecutive test blocks.
For the block starting at T a model is trained from scratch on the rows before it, and only on
rows whose label was known at least `embargo_ms` before T:

* purging: a training row's label window (decision bar to last fill) ends before T, so no
  training label overlaps a test bar — the rows that straddle the boundary are dropped;
* embargo: a further gap of `embargo_ms` (≥ the label horizon) between the last training
  label and T, so the serially correlated rows right before the test block do not make its
  first rows easy.

Every parameter is fixed in advance; early stopping happens inside each training window
(`slt.model.train`). The test blocks' predictions are pooled and scored once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from slt.domain.candle import F64, I64
from slt.model.config import XgbParams
from slt.model.dataset import Dataset
from slt.model.errors import TrainingError
from slt.model.metrics import OosMetrics, evaluate, spearman
from slt.model.train import fit, load_booster, predict

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class FoldResult:
    """One test block. Times int UTC ms; `skipped` says why a fold produced no predictions."""

    index: int
    test_start_ms: int
    test_end_ms: int
    train_rows: int
    test_rows: int
    best_iteration: int
    ic: float | None
    skipped: str | None = None


@dataclass(frozen=True, slots=True)
class WalkForwardResult:
    folds: tuple[FoldResult, ...]
    rows: I64
    """Indices into the dataset of the predicted (out-of-sample) rows."""
    prediction: F64
    metrics: OosMetrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "oos": self.metrics.to_dict(),
            "folds": [asdict(f) for f in self.folds],
        }


def fold_bounds(
    first_ms: int, last_ms: int, folds: int, test_fraction: float
) -> list[tuple[int, int]]:
    """[start, end) of each test block over the last `test_fraction` of [first_ms, last_ms]."""
    if folds < 1:
        return []
    end = last_ms + 1
    start = first_ms + math.ceil((1.0 - test_fraction) * (end - first_ms))
    edges = [start + (end - start) * i // folds for i in range(folds + 1)]
    return [(edges[i], edges[i + 1]) for i in range(folds) if edges[i + 1] > edges[i]]


def purged_train_mask(
    ds: Dataset, test_start_ms: int, embargo_ms: int, window_ms: int | None = None
) -> npt.NDArray[np.bool_]:
    """Rows usable for training before a test block starting at `test_start_ms`."""
    mask = ds.label_end_ms + embargo_ms <= test_start_ms
    if window_ms is not None:
        mask &= ds.time_ms >= test_start_ms - window_ms
    return mask


def walk_forward(
    ds: Dataset,
    params: XgbParams,
    *,
    folds: int,
    test_fraction: float,
    embargo_ms: int,
    gap_ms: int,
    eval_fraction: float,
    winsor_quantile: float,
    min_rows_per_day: int = 30,
    window_ms: int | None = None,
    progress: Progress | None = None,
) -> WalkForwardResult:
    """Out-of-sample predictions and metrics over `folds` test blocks (see the module doc)."""
    if embargo_ms < gap_ms:
        raise ValueError(f"embargo ({embargo_ms} ms) must be ≥ the label horizon ({gap_ms} ms)")
    bounds = fold_bounds(ds.first_ms, ds.last_ms, folds, test_fraction)
    results: list[FoldResult] = []
    rows_out: list[I64] = []
    preds_out: list[F64] = []
    for i, (start, end) in enumerate(bounds):
        if progress is not None:
            progress(i, len(bounds))
        test = np.flatnonzero((ds.time_ms >= start) & (ds.time_ms < end))
        train = purged_train_mask(ds, start, embargo_ms, window_ms)
        try:
            fitted = fit(
                ds.take(train),
                params,
                eval_fraction=eval_fraction,
                gap_ms=gap_ms,
                winsor_quantile=winsor_quantile,
            )
        except TrainingError as exc:
            results.append(
                FoldResult(i, start, end, int(train.sum()), int(test.size), -1, None, str(exc))
            )
            continue
        pred = predict(load_booster(fitted.model, params.nthread), ds.x[test])
        ic = spearman(pred, ds.y[test])
        results.append(
            FoldResult(
                i,
                start,
                end,
                fitted.train_rows,
                int(test.size),
                fitted.best_iteration,
                None if math.isnan(ic) else ic,
            )
        )
        rows_out.append(test.astype(np.int64))
        preds_out.append(pred)
    if progress is not None:
        progress(len(bounds), len(bounds))
    rows = np.concatenate(rows_out) if rows_out else np.zeros(0, dtype=np.int64)
    prediction = np.concatenate(preds_out) if preds_out else np.zeros(0, dtype=np.float64)
    metrics = evaluate(
        prediction,
        ds.y[rows],
        ds.time_ms[rows],
        direction=ds.direction[rows],
        symbol_id=ds.symbol_id[rows],
        min_rows_per_day=min_rows_per_day,
    )
    return WalkForwardResult(tuple(results), rows, prediction, metrics)
