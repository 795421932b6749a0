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

Before it loads a candle the job bounds its window to what fits under its memory cap
(`slt.live.learning_budget`): when every symbol's window would not fit, the oldest bars of all
symbols are dropped together, reported as a `trim` progress step (the Brain logs it) and in the
outcome. The most recent bars, the holdout among them, are always kept.

The Brain-side learner registers the result and decides with `Verdict.promoted`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.domain import CandleSeries, Side
from slt.domain.candle import interval_ms
from slt.live.learning_budget import WindowPlan, budget_bytes, bytes_per_row, plan_window
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
from slt.model.registry import ModelRecord, new_model_id
from slt.model.train import TrainResult
from slt.model.worker import Report
from slt.storage import CandleStore, ExperienceRow, TradingStore, create_engine
from slt.storage.schema import candles as candle_table


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
    budget_bytes: int | None = None
    """Memory the training rows may take; None: the cap's (`memory_limit_mb` less a reserve)."""

    def plan(self) -> WindowPlan:
        """The window this job trains on: the configured one, cut to fit the budget."""
        budget = self.budget_bytes
        return plan_window(
            now_ms=self.now_ms,
            step_ms=interval_ms(self.interval),
            window_days=self.config.train_window_days,
            symbols=len(self.symbols),
            warmup_bars=self.warmup_bars,
            row_bytes=bytes_per_row(len(self.features.names) + 1),
            budget=budget_bytes(self.config.memory_limit_mb) if budget is None else budget,
        )


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
    dropped_rows: int = 0
    """Rows of the oldest candles left out to fit the memory budget (2 per candle)."""


def run_learning_job(job: LearningJob, report: Report) -> LearningOutcome:
    """The worker entry point: plan the window, load it and the buffer, run one round."""
    plan = job.plan()
    report("load", 0, 1)
    series, experience, sides, dropped = asyncio.run(_load(job, plan))
    report("load", 1, 1)
    if plan.cut:
        report("trim", dropped, plan.max_rows)
    series = [s for s in series if len(s)]
    if not series:
        raise TrainingError(
            f"no stored {job.interval} candles of {', '.join(job.symbols)} in the training "
            "window; the feed stores closed candles as they arrive, or import them"
        )
    cfg = job.config
    ticks = {s: Decimal(t) for s, t in job.ticks.items()}
    ds = build_dataset(series, job.features, job.labels, ticks=ticks, since_ms=plan.since_ms)
    extra = experience_rows(experience, sides, ds, plan.since_ms, job.now_ms)
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
        dropped_rows=dropped,
    )


async def _load(
    job: LearningJob, plan: WindowPlan
) -> tuple[list[CandleSeries], list[ExperienceRow], dict[tuple[str, str, int], Side], int]:
    """Candles of the planned window (with warm-up, closed by `now_ms`), the closed experience
    rows, each closed trade's side by (run, symbol, entry time) (the buffer does not store it),
    and the rows the cut left out: two per stored candle of the window before `since_ms`."""
    step = interval_ms(job.interval)
    start = plan.since_ms - job.warmup_bars * step
    end = job.now_ms - step + 1  # a candle opened at t has closed by t + step
    engine = create_engine(job.database_url)
    try:
        candles = CandleStore(engine)
        series = [await candles.load(s, job.interval, start, end) for s in job.symbols]
        dropped = 0
        if plan.cut:
            dropped = 2 * await _count_candles(engine, job, plan.window_start_ms, plan.since_ms)
        trading = TradingStore(engine)
        experience = await trading.experience()
        trades = await trading.trades(start_ms=plan.since_ms, end_ms=job.now_ms + 1)
    finally:
        await engine.dispose()
    sides = {
        (t.run_id, t.symbol, t.entry_time_ms): Side[t.side]
        for t in trades
        if t.side in Side.__members__
    }
    return series, experience, sides, dropped


async def _count_candles(engine: AsyncEngine, job: LearningJob, start_ms: int, end_ms: int) -> int:
    """Stored candles of the job's symbols opened in [start_ms, end_ms) (counted, not loaded)."""
    query = (
        select(func.count())
        .select_from(candle_table)
        .where(
            candle_table.c.interval == job.interval,
            candle_table.c.symbol.in_(job.symbols),
            candle_table.c.open_time >= start_ms,
            candle_table.c.open_time < end_ms,
        )
    )
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


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


def challenger_record(
    outcome: LearningOutcome,
    parent_id: str,
    spec: FeatureSpec,
    interval: str,
    cfg: ModelConfig,
    labels: LabelParams,
    metrics: dict[str, float],
) -> ModelRecord:
    """The registry draft of a job's challenger (a candidate until promoted), with the figures
    its verdict was made on. Called in the Brain, never in the job's process, which need not
    import the service layer."""
    from slt.model.service import Training, candidate_record

    fit = {k: _finite(v) for k, v in asdict(outcome.fit).items() if k != "model"}
    return candidate_record(
        outcome.verdict.challenger_id,
        int(time.time() * 1000),
        parent_id,
        outcome,
        interval,
        Training(spec, cfg, labels),
        {"live_retrain": {k: _finite(v) for k, v in metrics.items()}, "fit": fit},
    )


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such a float is stored as None."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
