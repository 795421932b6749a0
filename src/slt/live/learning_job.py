"""The live retraining job: what runs in the capped child process `slt.live.learning` starts.

The child reads its own data from the database — the trailing window of stored candles of the
live symbols and the experience buffer — rather than receiving it from the Brain: the window
is tens of millions of rows on a full symbol list, and loading it in the Brain would put that
memory (and the load time) on the process that trades. Under the child's address-space cap a
window that does not fit becomes a `TrainingError`, not a Brain killed by the OOM killer.

The computation is a champion/challenger round of `slt.model.challenge`, the same code the
backtest's self-learning runs:

* the dataset is every candle row of the window whose label was realised by `now_ms` (labels
  are computed on candles closed by then, so a trade still open has none), plus one row per
  closed trade of the experience buffer: the features the live model was given at its entry,
  its side, and the net return it really made (fees, funding, rotation and all);
* the challenger is fitted on rows known H bars before the most recent `holdout_fraction`, and
  both models are judged there; `challenger_checks` run on the challenger.

The Brain-side learner registers the result and decides with `Verdict.promoted`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from slt.domain import CandleSeries, Side
from slt.domain.candle import DAY_MS, interval_ms
from slt.model.challenge import (
    BoosterModel,
    ExtraRows,
    Verdict,
    append_rows,
    judge_challenger,
    train_challenger,
)
from slt.model.config import ModelConfig
from slt.model.dataset import Dataset, build_dataset
from slt.model.errors import TrainingError
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams
from slt.model.registry import new_model_id
from slt.model.train import TrainResult
from slt.model.worker import Report
from slt.storage import CandleStore, ExperienceRow, TradingStore, create_engine


@dataclass(frozen=True, slots=True)
class LearningJob:
    """Inputs of one live retrain (all picklable; the data is read from `database_url`)."""

    database_url: str
    symbols: tuple[str, ...]
    interval: str
    now_ms: int
    """Only candles closed and outcomes known by this time (int UTC ms) are used."""
    warmup_bars: int
    """Candles loaded before the window so the features are warm at its start."""
    champion_id: str
    champion_model: bytes
    features: FeatureSpec
    labels: LabelParams
    config: ModelConfig
    ticks: dict[str, str]


@dataclass(frozen=True, slots=True)
class LearningOutcome:
    """The challenger, the verdict on it, and what its registry record needs. Times UTC ms."""

    model: bytes
    verdict: Verdict
    fit: TrainResult
    symbols: tuple[str, ...]
    fingerprint: str
    first_ms: int
    last_ms: int
    rows: int
    experience_rows: int


def run_learning_job(job: LearningJob, report: Report) -> LearningOutcome:
    """The worker entry point: load the window and the buffer, run one challenger round."""
    report("load", 0, 1)
    series, experience, sides = asyncio.run(_load(job))
    report("load", 1, 1)
    series = [s for s in series if len(s)]
    if not series:
        raise TrainingError(
            f"no stored {job.interval} candles of {', '.join(job.symbols)} in the training "
            "window; the feed stores closed candles as they arrive, or import them"
        )
    cfg = job.config
    window_start = job.now_ms - cfg.train_window_days * DAY_MS
    ticks = {s: Decimal(t) for s, t in job.ticks.items()}
    ds = build_dataset(series, job.features, job.labels, ticks=ticks, since_ms=window_start)
    extra = experience_rows(experience, sides, ds, window_start, job.now_ms)
    ds = append_rows(ds, extra)
    report("fit", 0, 1)
    fitted, holdout = train_challenger(ds, cfg)
    report("fit", 1, 1)
    challenger = BoosterModel(new_model_id(job.now_ms, fitted.model), fitted.model)
    champion = BoosterModel(job.champion_id, job.champion_model)
    verdict = judge_challenger(challenger, champion, holdout, fitted)
    return LearningOutcome(
        model=fitted.model,
        verdict=verdict,
        fit=fitted,
        symbols=ds.symbols,
        fingerprint=ds.fingerprint,
        first_ms=ds.first_ms,
        last_ms=ds.last_ms,
        rows=len(ds),
        experience_rows=len(extra),
    )


async def _load(
    job: LearningJob,
) -> tuple[list[CandleSeries], list[ExperienceRow], dict[tuple[str, str, int], Side]]:
    """Candles of the window (with warm-up, closed by `now_ms`), the closed experience rows,
    and each closed trade's side by (run, symbol, entry time): the buffer does not store it."""
    step = interval_ms(job.interval)
    window_start = job.now_ms - job.config.train_window_days * DAY_MS
    start = window_start - job.warmup_bars * step
    end = job.now_ms - step + 1  # a candle opened at t has closed by t + step
    engine = create_engine(job.database_url)
    try:
        candles = CandleStore(engine)
        series = [await candles.load(s, job.interval, start, end) for s in job.symbols]
        trading = TradingStore(engine)
        experience = await trading.experience()
        trades = await trading.trades(start_ms=window_start, end_ms=job.now_ms + 1)
    finally:
        await engine.dispose()
    sides = {
        (t.run_id, t.symbol, t.entry_time_ms): Side[t.side]
        for t in trades
        if t.side in Side.__members__
    }
    return series, experience, sides


def experience_rows(
    experience: Sequence[ExperienceRow],
    sides: dict[tuple[str, str, int], Side],
    ds: Dataset,
    window_start: int,
    now_ms: int,
) -> ExtraRows:
    """One dataset row per closed trade of the window whose features match the schema.

    The decision bar is the one before the entry's bar (a signal at a close is filled in the
    next bar), as in the backtest's buffer; features stored as None (NaN at entry) are NaN.
    Rows of another schema width, of symbols not traded now, or whose outcome came after
    `now_ms` are left out."""
    width = ds.x.shape[1] - 1
    symbol_id = {s: i for i, s in enumerate(ds.symbols)}
    step = ds.interval_ms
    x: list[list[float]] = []
    y: list[float] = []
    times: list[int] = []
    ends: list[int] = []
    sids: list[int] = []
    for row in experience:
        side = sides.get((row.run_id, row.symbol, row.entry_time_ms))
        sid = symbol_id.get(row.symbol)
        outcome, exit_ms = row.realised_return, row.exit_time_ms
        if side is None or sid is None or outcome is None or exit_ms is None:
            continue
        decided = (row.entry_time_ms // step) * step - step
        if decided < window_start or exit_ms > now_ms or len(row.features) != width:
            continue
        if not math.isfinite(outcome):
            continue
        x.append([math.nan if f is None else float(f) for f in row.features] + [float(side)])
        y.append(float(outcome))
        times.append(decided)
        ends.append(exit_ms)
        sids.append(sid)
    return ExtraRows(
        x=np.array(x, dtype=np.float64).reshape(len(x), width + 1),
        y=np.array(y, dtype=np.float64),
        time_ms=np.array(times, dtype=np.int64),
        label_end_ms=np.array(ends, dtype=np.int64),
        symbol_id=np.array(sids, dtype=np.int64),
    )
