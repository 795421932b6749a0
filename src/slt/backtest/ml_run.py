"""The ML backtest use case: a champion model, an honest out-of-sample period, the comparison.

A model is only tested on candles it never learned from. `slt train` trains, by default, on
the first `DEFAULT_TRAIN_FRACTION` of the stored span; `slt backtest --strategy ml` then starts
trading after the last candle the champion's training labels may have read (its last
decision bar + the label span), later if `--start` says so. Earlier candles only warm the
features up. When no champion exists the backtest first trains one the same way and checks it
(`slt model check`); a model that fails its checks is not promoted and the backtest stops.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from slt.backtest.driver import BacktestError
from slt.config import Settings
from slt.data.validate import fmt_ms
from slt.domain import CandleSeries
from slt.model.checks import record_label_params
from slt.model.checks_leaks import label_end_ms
from slt.model.errors import PromotionBlockedError
from slt.model.features import default_feature_spec
from slt.model.registry import ModelRecord
from slt.model.selflearn import SelfLearningStrategy
from slt.model.service import (
    check_model,
    get_model,
    load_predictor,
    promote_model,
    tick_sizes,
    train_model,
)
from slt.rules import ExchangeRules

DEFAULT_TRAIN_FRACTION = 0.5
"""Share of the stored span `slt train` learns from when no --end is given."""

TrainProgress = Callable[[str, int, int], None]


def training_cutoff_ms(series: Mapping[str, CandleSeries], fraction: float) -> int:
    """The open time splitting the stored span: candles before it are for training."""
    first = min(int(s.open_time[0]) for s in series.values() if len(s))
    last = max(int(s.open_time[-1]) for s in series.values() if len(s))
    return first + int((last - first) * fraction)


def training_slice(series: Mapping[str, CandleSeries], end_ms: int | None) -> list[CandleSeries]:
    """Every series cut before `end_ms` (default: the `DEFAULT_TRAIN_FRACTION` split)."""
    cut = end_ms if end_ms is not None else training_cutoff_ms(series, DEFAULT_TRAIN_FRACTION)
    out = []
    for s in sorted(series):
        ser = series[s]
        n = int((ser.open_time < cut).sum())
        if n:
            out.append(ser.slice(0, n))
    if not out:
        raise BacktestError("no candles before the training cut-off; move --end later")
    return out


def out_of_sample_start_ms(record: ModelRecord, interval_ms: int) -> int:
    """First open time after every candle the model's training labels may have read (the
    rule `slt model check` holds a test period to)."""
    return label_end_ms(record, record_label_params(record), interval_ms) + interval_ms


@dataclass(frozen=True, slots=True)
class MLSetup:
    strategy: SelfLearningStrategy
    record: ModelRecord
    start_ms: int
    trained_now: bool


async def prepare_ml(
    settings: Settings,
    rules: ExchangeRules,
    series: Mapping[str, CandleSeries],
    *,
    on_train: Callable[[], None] | None = None,
    progress: TrainProgress | None = None,
) -> MLSetup:
    """The self-learning strategy on the champion (trained first when there is none) and the
    first open time it may trade."""
    spec = default_feature_spec()
    predictor = await load_predictor(settings, features=spec)
    trained_now = predictor is None
    if predictor is None:
        if on_train is not None:
            on_train()
        record = await train_model(
            settings,
            training_slice(series, None),
            progress=progress,
            features=spec,
            rules=rules,
        )
        report = await check_model(
            settings,
            record.model_id,
            list(series.values()),
            test_start_ms=out_of_sample_start_ms(record, next(iter(series.values())).interval_ms),
            progress=progress,
            rules=rules,
        )
        if not report.passed:
            failed = "; ".join(line for line in report.lines() if line.startswith("FAIL"))
            raise PromotionBlockedError(
                f"the model trained for this backtest ({record.model_id}) failed its checks "
                f"and was not made champion: {failed}"
            )
        await promote_model(settings, record.model_id)
        predictor = await load_predictor(settings, record.model_id, features=spec)
        assert predictor is not None
    record = await get_model(settings, predictor.model_id)
    interval = next(iter(series.values())).interval_ms
    start = out_of_sample_start_ms(record, interval)
    if settings.backtest.start_ms is not None:
        start = max(start, settings.backtest.start_ms)
    last = max(int(s.open_time[-1]) for s in series.values())
    if start > last:
        raise BacktestError(
            f"model {record.model_id} learned from candles up to its label horizon after "
            f"{fmt_ms(record.train_last_ms)}, and no stored candle is later: nothing is left to "
            "test it on honestly. Import later data, or train on less (`slt train --end ...`)"
        )
    strategy = SelfLearningStrategy(
        predictor,
        settings,
        spec,
        champion_since_ms=start,
        ticks=tick_sizes(rules, sorted(series)),
    )
    return MLSetup(strategy, record, start, trained_now)
