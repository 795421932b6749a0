"""One training run from candles to a model: dataset, walk-forward evaluation, final fit.

`train_on_series` is the whole computation; `run_training_job` is the same thing as a job for
`slt.model.worker` (the candles come in as an .npz file, the result goes back pickled). The
walk-forward metrics describe models trained exactly like the final one on earlier parts of
the same window, judged on the parts after them; the final model is then fitted on the whole
window. Nothing is chosen by looking at a test fold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from slt.domain import CandleSeries
from slt.domain.candle import DAY_MS
from slt.model.config import ModelConfig
from slt.model.dataset import Dataset, build_dataset
from slt.model.errors import TrainingError
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams
from slt.model.train import TrainResult, fit
from slt.model.walkforward import walk_forward
from slt.model.worker import Report

_COLUMNS = ("open_time", "open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class TrainingJob:
    """Inputs of a training run in the child process (all picklable)."""

    candles_path: str
    features: FeatureSpec
    labels: LabelParams
    config: ModelConfig
    ticks: dict[str, str]


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    """A fitted model and the facts its registry record needs. Times int UTC ms."""

    model: bytes
    fit: TrainResult
    symbols: tuple[str, ...]
    interval: str
    fingerprint: str
    first_ms: int
    last_ms: int
    rows: int
    metrics: dict[str, Any]


def save_candles(series_list: Sequence[CandleSeries], path: Path) -> None:
    """Write the series to one uncompressed .npz (arrays only, no pickle)."""
    arrays: dict[str, Any] = {
        "meta": np.frombuffer(
            orjson.dumps([[s.symbol, s.interval] for s in series_list]), dtype=np.uint8
        )
    }
    for i, s in enumerate(series_list):
        for col in _COLUMNS:
            arrays[f"s{i}_{col}"] = getattr(s, col)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def load_candles(path: Path) -> list[CandleSeries]:
    with np.load(path, allow_pickle=False) as data:
        meta = orjson.loads(data["meta"].tobytes())
        return [
            CandleSeries(
                str(symbol),
                str(interval),
                data[f"s{i}_open_time"].astype(np.int64),
                *(data[f"s{i}_{col}"].astype(np.float64) for col in _COLUMNS[1:]),
            )
            for i, (symbol, interval) in enumerate(meta)
        ]


def run_training_job(job: TrainingJob, report: Report) -> TrainingOutcome:
    """The worker entry point: load the candles, then `train_on_series`."""
    series = load_candles(Path(job.candles_path))
    ticks = {s: Decimal(t) for s, t in job.ticks.items()}
    return train_on_series(series, job.features, job.labels, job.config, ticks, report)


def train_on_series(
    series_list: Sequence[CandleSeries],
    features: FeatureSpec,
    labels: LabelParams,
    config: ModelConfig,
    ticks: Mapping[str, Decimal] | None = None,
    report: Report | None = None,
) -> TrainingOutcome:
    """Build the dataset of the trailing window, evaluate walk-forward, fit the final model."""

    def say(stage: str, done: int, total: int) -> None:
        if report is not None:
            report(stage, done, total)

    say("dataset", 0, 1)
    if not any(len(s) for s in series_list):
        raise TrainingError("no candles to train on; import data with `slt data import FILE...`")
    last_open = max(int(s.open_time[-1]) for s in series_list if len(s))
    since = last_open - config.train_window_days * DAY_MS
    ds = build_dataset(series_list, features, labels, ticks=ticks, since_ms=since)
    say("dataset", 1, 1)
    interval_ms = ds.interval_ms
    gap_ms = config.horizon_bars * interval_ms
    common: dict[str, Any] = {
        "eval_fraction": config.eval_fraction,
        "gap_ms": gap_ms,
        "winsor_quantile": config.winsor_quantile,
    }
    wf: dict[str, Any] | None = None
    if config.walk_forward_folds > 0:
        result = walk_forward(
            ds,
            config.xgb,
            folds=config.walk_forward_folds,
            test_fraction=config.walk_forward_test_fraction,
            embargo_ms=config.effective_embargo_bars * interval_ms,
            min_rows_per_day=config.min_rows_per_day,
            progress=lambda d, t: say("walk-forward", d, t),
            **common,
        )
        wf = result.to_dict()
    say("final fit", 0, 1)
    fitted = fit(ds, config.xgb, **common)
    say("final fit", 1, 1)
    return TrainingOutcome(
        model=fitted.model,
        fit=fitted,
        symbols=ds.symbols,
        interval=series_list[0].interval,
        fingerprint=ds.fingerprint,
        first_ms=ds.first_ms,
        last_ms=ds.last_ms,
        rows=len(ds),
        metrics={
            "walk_forward": wf,
            "fit": {k: _finite(v) for k, v in asdict(fitted).items() if k != "model"},
            "dataset": _dataset_summary(ds),
        },
    )


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a non-finite float (an unbounded winsor level) is None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _dataset_summary(ds: Dataset) -> dict[str, Any]:
    long = ds.direction > 0
    return {
        "rows": len(ds),
        "long_rows": int(long.sum()),
        "short_rows": int((~long).sum()),
        "effective_trades": float(ds.weight.sum()),
        "mean_long_return": float(ds.y[long].mean()) if long.any() else None,
        "mean_short_return": float(ds.y[~long].mean()) if (~long).any() else None,
    }
