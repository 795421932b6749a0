"""Self-learning during a backtest: retrain on what has happened, promote only what is better.

`SelfLearningStrategy` is the ML strategy (`slt.strategy.ml`) with a model that changes during
the run. The driver reports every closed trade at the close it happened (see
`slt.strategy.base.LearningStrategy`); after every `retrain_every_trades` trades, or when the
champion is older than `max_model_age_days` of simulated time, it trains a challenger at that
close T:

* the data is every symbol's candles that have closed by T, over the trailing
  `train_window_days`. Labels are computed on that truncated data, so a trade still open at T
  has no label (NaN) and cannot be trained on: only fully realised outcomes are used;
* the trades closed so far join the training rows as an experience buffer: the features of the
  bar each was decided on, its side, and the net return it really made (which includes what a
  label cannot know: rotation, signal reversals, funding);
* the most recent `holdout_fraction` of the window is held back. The challenger is trained on
  rows whose outcome was known at least H bars before that slice and both models are scored on
  it by out-of-sample IC (Spearman, both sides pooled). The challenger is promoted only if it
  scores higher and passes `challenger_checks` (an IC too high for the holdout's size is a
  leak's signature and blocks it); otherwise the champion keeps trading.

The round itself (split, fit, holdout ICs, checks, decision) is `slt.model.challenge`, the same
code the live learner (`slt.live.learning`) runs. Each decision is a `ModelEvent` listed in the
backtest result and report. Training here runs in the backtest's process (a retrain takes
seconds on these windows); live trading trains in a separate process with a memory cap
(`slt.model.worker`). `DISABLE_MODEL_TRAINING` makes this a plain ML strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

import numpy as np

from slt.config import Settings
from slt.domain import CandleSeries, ModelEvent, TradeRecord
from slt.domain.candle import DAY_MS, F64
from slt.model.challenge import (
    BoosterModel,
    ExtraRows,
    append_rows,
    judge_challenger,
    train_challenger,
)
from slt.model.dataset import Dataset, build_dataset
from slt.model.errors import ModelError
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams
from slt.model.registry import new_model_id
from slt.strategy.base import SignalColumns
from slt.strategy.ml import MLStrategy, MLSymbolState, ReturnModel, SignalRule

__all__ = ["BoosterModel", "SelfLearningStrategy"]


class SelfLearningStrategy:
    """An ML strategy that retrains every N closed trades and keeps the better model."""

    def __init__(
        self,
        champion: ReturnModel,
        settings: Settings,
        spec: FeatureSpec,
        *,
        champion_since_ms: int,
        ticks: Mapping[str, Decimal] | None = None,
    ) -> None:
        self.settings = settings
        self.cfg = settings.model
        self.spec = spec
        self.ticks = dict(ticks or {})
        self.rule = SignalRule.from_config(
            settings.ml, settings.fees, relaxed=settings.relaxed_signal_mode
        )
        self.labels = LabelParams.from_config(settings.risk, settings.fees, self.cfg.horizon_bars)
        self.champion = champion
        self.champion_since_ms = champion_since_ms
        self._series: dict[str, CandleSeries] = {}
        self._features: dict[str, F64] = {}
        self._experience: list[TradeRecord] = []
        self._since_retrain = 0
        self._events: list[ModelEvent] = []

    # the Strategy protocol -------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"ml:{self.champion.model_id}"

    def _ml(self) -> MLStrategy:
        return MLStrategy(self.champion, self.rule, features=self._matrix)

    def batch(self, series: CandleSeries) -> SignalColumns:
        self._series[series.symbol] = series
        return self._ml().batch(series)

    def incremental(self, symbol: str) -> MLSymbolState:
        return self._ml().incremental(symbol)

    def _matrix(self, series: CandleSeries) -> F64:
        """Features of a series, computed once per symbol; a prefix of a known series (the
        data up to a retrain) reuses the rows, which causality makes identical."""
        known = self._features.get(series.symbol)
        full = self._series.get(series.symbol)
        n = len(series)
        if (
            known is None
            or full is None
            or n > known.shape[0]
            or (n and int(full.open_time[n - 1]) != int(series.open_time[-1]))
        ):
            known = self.spec.matrix(series)
            self._features[series.symbol] = known
        return known[:n]

    # learning ----------------------------------------------------------------------------------
    def model_events(self) -> tuple[ModelEvent, ...]:
        return tuple(self._events)

    def due_ms(self) -> int | None:
        if self.settings.disable_model_training:
            return None
        return self.champion_since_ms + int(self.cfg.max_model_age_days * DAY_MS)

    def on_trades_closed(self, trades: Sequence[TradeRecord], now_ms: int) -> bool:
        self._experience.extend(trades)
        self._since_retrain += len(trades)
        if self.settings.disable_model_training:
            return False
        if self._since_retrain >= self.cfg.retrain_every_trades:
            trigger = "trades"
        elif now_ms - self.champion_since_ms >= self.cfg.max_model_age_days * DAY_MS:
            trigger = "age"
        else:
            return False
        self._since_retrain = 0
        return self._retrain(now_ms, trigger)

    def _retrain(self, now_ms: int, trigger: str) -> bool:
        seen = len(self._experience)
        try:
            ds = self._dataset(now_ms)
            fitted, judged = train_challenger(ds, self.cfg)
        except ModelError as exc:
            self.champion_since_ms = now_ms  # do not retry at every later close
            self._events.append(
                ModelEvent(now_ms, seen, trigger, "", self.champion.model_id, False, {}, str(exc))
            )
            return False
        challenger = BoosterModel(new_model_id(now_ms, fitted.model), fitted.model)
        verdict = judge_challenger(challenger, self.champion, judged, fitted)
        if verdict.promoted:
            self.champion = challenger
        self.champion_since_ms = now_ms
        self._events.append(
            ModelEvent(
                now_ms,
                seen,
                trigger,
                challenger.model_id,
                self.champion.model_id,
                verdict.promoted,
                verdict.metrics(seen),
                verdict.note,
            )
        )
        return verdict.promoted

    def _dataset(self, now_ms: int) -> Dataset:
        """Bars closed by `now_ms` in the trailing window, plus the experience buffer."""
        window_start = now_ms - self.cfg.train_window_days * DAY_MS
        closed: list[CandleSeries] = []
        for symbol in sorted(self._series):
            series = self._series[symbol]
            n = int(np.searchsorted(series.open_time, now_ms - series.interval_ms, "right"))
            if n > 0:
                closed.append(series.slice(0, n))
        spec = FeatureSpec(
            self.spec.names, self.spec.schema_version, self.spec.schema_hash, self._matrix
        )
        ds = build_dataset(closed, spec, self.labels, ticks=self.ticks, since_ms=window_start)
        return _with_experience(ds, self._experience, closed, self._matrix)


def _with_experience(
    ds: Dataset,
    trades: Sequence[TradeRecord],
    closed: Sequence[CandleSeries],
    matrix: Callable[[CandleSeries], F64],
) -> Dataset:
    """`ds` plus one row per closed trade: features of its decision bar, its side, and the net
    return it made (`return_pct`); weight 1, a whole independent outcome."""
    by_symbol = {s.symbol: (i, s) for i, s in enumerate(closed)}
    rows: list[tuple[F64, float, int, int, int]] = []
    for t in trades:
        found = by_symbol.get(t.symbol)
        if found is None:
            continue
        sid, series = found
        decided = t.entry_time_ms - series.interval_ms
        r = int(np.searchsorted(series.open_time, decided))
        if r >= len(series) or int(series.open_time[r]) != decided:
            continue
        x = np.append(matrix(series)[r], float(int(t.side)))
        rows.append((x, t.return_pct, decided, t.exit_time_ms, sid))
    return append_rows(
        ds,
        ExtraRows(
            x=np.array([r[0] for r in rows]).reshape(len(rows), ds.x.shape[1]),
            y=np.array([r[1] for r in rows], dtype=np.float64),
            time_ms=np.array([r[2] for r in rows], dtype=np.int64),
            label_end_ms=np.array([r[3] for r in rows], dtype=np.int64),
            symbol_id=np.array([r[4] for r in rows], dtype=np.int64),
        ),
    )
