"""One champion/challenger round: train a challenger, judge both on a held-out recent slice.

The backtest's self-learning strategy (`slt.model.selflearn`, in process) and the live learner
(`slt.live.learning`, in a capped child process) make the same decision with the same code, so
a model promoted live passed exactly the gate a backtest shows working:

* `append_rows` adds the experience buffer (closed trades: the features they were decided on,
  their side, the net return they really made) to a dataset built from candles, in time order;
* `train_challenger` holds back the most recent `holdout_fraction` of the window and fits on
  the rows whose outcome was known at least H bars before that slice, so the holdout is out of
  sample for the challenger;
* `judge_challenger` scores challenger and champion on the holdout by IC (Spearman, both sides
  pooled) and runs `challenger_checks`. The challenger wins only with a finite IC above the
  champion's and passing checks: an IC too high for the holdout's size is a leak's signature
  and blocks it, whatever it beats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from slt.domain.candle import F64, I64
from slt.model.checks import challenger_checks
from slt.model.checks_report import CheckReport
from slt.model.config import ModelConfig
from slt.model.dataset import Dataset
from slt.model.metrics import evaluate
from slt.model.train import TrainResult, early_stopping_split, fit, load_booster, predict
from slt.strategy.ml import ReturnModel


class BoosterModel:
    """A model held in memory: id plus (long, short) predictions, like `Predictor`."""

    def __init__(self, model_id: str, model: bytes, nthread: int = 1) -> None:
        self.model_id = model_id
        self.model = model
        self._booster = load_booster(model, nthread)

    def predict(self, features: F64) -> tuple[F64, F64]:
        n = features.shape[0]
        both = np.empty((2 * n, features.shape[1] + 1), dtype=np.float64)
        both[:n, :-1] = features
        both[:n, -1] = 1.0
        both[n:, :-1] = features
        both[n:, -1] = -1.0
        out = predict(self._booster, both)
        return out[:n].copy(), out[n:].copy()


@dataclass(frozen=True, slots=True)
class ExtraRows:
    """Rows to add to a dataset (one per closed trade): inputs with the direction last, the
    realised return, decision time, the time the outcome was known, and the symbol's index."""

    x: F64
    y: F64
    time_ms: I64
    label_end_ms: I64
    symbol_id: I64

    def __len__(self) -> int:
        return int(self.y.shape[0])


def append_rows(ds: Dataset, rows: ExtraRows) -> Dataset:
    """`ds` plus `rows` (weight 1 each: a whole independent outcome), sorted by time (stable,
    so the candle rows keep their order and a trade row follows the bars of its time)."""
    if not len(rows):
        return ds
    x = np.vstack([ds.x, rows.x])
    order = np.argsort(np.concatenate([ds.time_ms, rows.time_ms]), kind="stable")
    return Dataset(
        x=np.ascontiguousarray(x[order]),
        y=np.concatenate([ds.y, rows.y])[order],
        weight=np.concatenate([ds.weight, np.ones(len(rows))])[order],
        time_ms=np.concatenate([ds.time_ms, rows.time_ms])[order],
        label_end_ms=np.concatenate([ds.label_end_ms, rows.label_end_ms]).astype(np.int64)[order],
        symbol_id=np.concatenate([ds.symbol_id, rows.symbol_id]).astype(np.int64)[order],
        symbols=ds.symbols,
        feature_names=ds.feature_names,
        interval_ms=ds.interval_ms,
        fingerprint=ds.fingerprint,
    )


def train_challenger(ds: Dataset, cfg: ModelConfig) -> tuple[TrainResult, Dataset]:
    """The challenger fitted on rows known H bars before the holdout, and the holdout rows.

    Raises `ModelError` (`TrainingError`) when the window is too small to train on."""
    gap_ms = cfg.horizon_bars * ds.interval_ms
    train, holdout, _ = early_stopping_split(ds, cfg.holdout_fraction, gap_ms)
    fitted = fit(
        ds.take(train),
        cfg.xgb,
        eval_fraction=cfg.eval_fraction,
        gap_ms=gap_ms,
        winsor_quantile=cfg.winsor_quantile,
    )
    return fitted, ds.take(holdout)


def holdout_ic(model: ReturnModel, ds: Dataset) -> float:
    """IC of `model`'s prediction for each row's own side against its outcome; NaN when too
    few rows."""
    if len(ds) < 2:
        return math.nan
    long, short = model.predict(ds.x[:, :-1])
    prediction = np.where(ds.direction > 0, long, short)
    return float(evaluate(prediction, ds.y, ds.time_ms).ic)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one round: both holdout ICs, the challenger's checks, the decision."""

    challenger_id: str
    champion_id: str
    challenger_ic: float
    champion_ic: float
    train_rows: int
    holdout_rows: int
    report: CheckReport

    @property
    def better(self) -> bool:
        """A finite challenger IC above the champion's (any finite IC beats none)."""
        new, old = self.challenger_ic, self.champion_ic
        return math.isfinite(new) and (not math.isfinite(old) or new > old)

    @property
    def promoted(self) -> bool:
        return self.better and self.report.passed

    def metrics(self, experience_trades: int) -> dict[str, float]:
        """The figures the decision was made on, as a `ModelEvent` and the log show them."""
        return {
            "challenger_ic": self.challenger_ic,
            "champion_ic": self.champion_ic,
            "train_rows": float(self.train_rows),
            "holdout_rows": float(self.holdout_rows),
            "experience_trades": float(experience_trades),
        }

    @property
    def note(self) -> str:
        """In words: both ICs and the decision, naming the checks that blocked a better one."""
        verb = "promoted" if self.promoted else "kept the champion"
        blocked = "; ".join(f"{r.name} failed: {r.detail}" for r in self.report.failures)
        if self.better and blocked:
            verb = f"kept the champion, challenger blocked by its checks ({blocked})"
        return f"holdout IC {self.challenger_ic:+.4f} vs champion {self.champion_ic:+.4f}: {verb}"


def judge_challenger(
    challenger: BoosterModel, champion: ReturnModel, holdout: Dataset, fitted: TrainResult
) -> Verdict:
    """Score both models on `holdout` and run the challenger's checks."""
    new_ic = holdout_ic(challenger, holdout)
    old_ic = holdout_ic(champion, holdout)
    report = challenger_checks(
        challenger.model_id, challenger.model, holdout.feature_names, holdout, new_ic
    )
    return Verdict(
        challenger_id=challenger.model_id,
        champion_id=champion.model_id,
        challenger_ic=new_ic,
        champion_ic=old_ic,
        train_rows=fitted.train_rows,
        holdout_rows=len(holdout),
        report=report,
    )
