"""The ML strategy's signal rule, and batch == live on real candles."""

from __future__ import annotations

import numpy as np
import pytest

from slt.config import FeeConfig, MLSignalConfig
from slt.data.csv_import import parse_file
from slt.data.sample import sample_files
from slt.domain.candle import F64
from slt.features import FEATURE_NAMES
from slt.strategy.ml import ATR_PCT, MTF, MLStrategy, SignalRule, signal_columns

RULE = SignalRule(min_edge=0.001, confidence_span=0.004, mtf_filter=True, relaxed=False)
NO_COSTS = FeeConfig(taker_rate=0.0, slippage_pct=0.0)
RELAXED = SignalRule.from_config(
    MLSignalConfig(min_edge=0.001, confidence_span=0.004), NO_COSTS, relaxed=True
)


def _features(mtf: list[float], atr: float = 0.003) -> F64:
    x = np.full((len(mtf), len(FEATURE_NAMES)), 0.0)
    x[:, MTF] = mtf
    x[:, ATR_PCT] = atr
    return x


def test_the_better_side_trades_only_above_the_edge_and_with_the_higher_timeframes() -> None:
    long = np.array([0.002, -0.01, 0.0009, 0.003, 0.003, np.nan])
    short = np.array([-0.004, 0.006, -0.01, -0.01, -0.01, 0.002])
    x = _features([1 / 3, -1.0, 1.0, -1 / 3, np.nan, -1.0])
    cols = signal_columns(long, short, x, RULE)
    # row 0 long passes; row 1 short passes; row 2 below the edge; row 3 long against the
    # majority of higher timeframes; row 4 unknown trend does not confirm; row 5 short (NaN long).
    assert cols.direction.tolist() == [1, -1, 0, 0, 0, -1]
    assert cols.expected_return[:2].tolist() == [0.002, 0.006]
    assert cols.confidence[0] == pytest.approx(0.5 + 0.5 * (0.001 / 0.004))
    assert cols.confidence[1] == 1.0  # 0.005 above the edge: capped
    assert cols.confidence[2] == 0.0


def test_relaxed_mode_halves_the_edge_and_only_vetoes_unanimous_opposition() -> None:
    long = np.array([0.0007, 0.003, 0.003, 0.003])
    short = np.full(4, -0.01)
    x = _features([1.0, -1 / 3, -1.0, np.nan])
    assert RELAXED.min_edge == pytest.approx(0.0005)
    cols = signal_columns(long, short, x, RELAXED)
    assert cols.direction.tolist() == [1, 1, 0, 1]


def test_relaxed_mode_also_trades_forecasts_that_beat_the_price_but_not_the_costs() -> None:
    fees = FeeConfig(taker_rate=0.0005, slippage_pct=0.0001)
    rule = SignalRule.from_config(MLSignalConfig(min_edge=0.001), fees, relaxed=True)
    assert rule.min_edge == pytest.approx(0.0005 - 0.0012)
    strict = SignalRule.from_config(MLSignalConfig(min_edge=0.001), fees, relaxed=False)
    assert strict.min_edge == 0.001
    long, short, x = np.array([-0.0005]), np.array([-0.003]), _features([1.0])
    relaxed = signal_columns(long, short, x, rule)
    assert relaxed.direction.tolist() == [1]
    # The signal carries the return before fees, as every Signal does.
    assert relaxed.expected_return[0] == pytest.approx(-0.0005 + 0.0012)
    assert signal_columns(long, short, x, strict).direction.tolist() == [0]


def test_no_signal_without_a_known_atr() -> None:
    x = _features([1.0], atr=np.nan)
    cols = signal_columns(np.array([0.01]), np.array([-0.01]), x, RULE)
    assert cols.direction.tolist() == [0]


class LinearModel:
    """A transparent stand-in return model: a fixed linear map of the features."""

    model_id = "linear-test"

    def __init__(self) -> None:
        self.w = np.linspace(-0.002, 0.002, len(FEATURE_NAMES))

    def predict(self, features: F64) -> tuple[F64, F64]:
        x = np.nan_to_num(np.clip(features, -3, 3))
        score = (x * self.w).sum(axis=1)  # row by row: the same sum for 1 row or many
        return score, -score - 0.001


def test_batch_and_live_give_the_same_signals_on_real_candles() -> None:
    series = parse_file(sample_files()[0]).series.slice(0, 3000)
    strategy = MLStrategy(LinearModel(), RELAXED)
    cols = strategy.batch(series)
    assert 0 < np.count_nonzero(cols.direction) < len(series)
    live = strategy.incremental(series.symbol)
    for i in range(len(series)):
        sig = live.update(series.candle(i))
        want = cols.signal(series.symbol, int(series.open_time[i]) + 60_000, i, strategy.name)
        assert sig == want, f"bar {i}"
    assert strategy.name == "ml:linear-test"
