"""The strategy a live or paper run trades: the baseline, or the champion model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from slt.config import Settings
from slt.strategy.base import Strategy
from slt.strategy.baseline import EmaAtrBaseline

if TYPE_CHECKING:
    from slt.live.learning import LiveLearner


class NoChampionError(Exception):
    """`--strategy ml` without a trained champion model."""


async def build_strategy(settings: Settings, name: str) -> Strategy:
    if name == "baseline":
        return EmaAtrBaseline(settings.baseline)
    # The model stack (xgboost, the registry, the checks) is imported only when it is used:
    # a baseline run's processes start seconds sooner without it.
    from slt.model.service import load_predictor
    from slt.strategy.ml import MLStrategy, SignalRule

    predictor = await load_predictor(settings)
    if predictor is None:
        raise NoChampionError(
            "the ml strategy needs a champion model and there is none: train one with "
            "`slt train` (or run with the baseline strategy)"
        )
    rule = SignalRule.from_config(settings.ml, settings.fees, relaxed=settings.relaxed_signal_mode)
    return MLStrategy(predictor, rule)


def live_learner(
    settings: Settings, symbols: Sequence[str], interval: str, name: str
) -> LiveLearner | None:
    """The retraining loop of an ml run (`slt.live.learning`); None for the baseline, whose
    processes then never import the model stack."""
    if name != "ml":
        return None
    from slt.live.learning import LiveLearner

    return LiveLearner(settings, symbols, strategy=name, interval=interval)
