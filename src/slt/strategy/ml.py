"""The ML strategy: the model's predicted net trade return, confirmed by higher timeframes.

At each close the 12 features (`slt.features`) go to a return model that predicts the net
return of a long and of a short trade opened at the next open and managed by the real exits
(`slt.model.labels` defines that target). The rule, the same for batch and live:

* the better side is taken if its predicted return exceeds `min_edge` (a fraction, already
  net of fees since the labels are). `RELAXED_SIGNAL_MODE` lowers the bar to
  `min_edge × relaxed_edge_factor − round-trip cost` (two taker fees and two slippages): it
  trades whenever the model expects the price to move its way, even by less than the costs.
  That is for gathering experience (and seeing the learning loop work) on data where the model
  finds no edge after costs; the default never trades a forecast loss;
* higher timeframes (`mtf_trend`, the mean EMA trend of closed 5m/15m/1h candles) must
  confirm: a long needs `mtf_trend > 0`, a short `< 0`. Relaxed, they only veto: a trade is
  dropped when all three timeframes point against it (`mtf_trend = ∓1`), and an unknown
  `mtf_trend` (warm-up) does not block;
* `expected_return` is the predicted return before fees (net + round-trip cost), as the
  `Signal` contract and the risk layer's rotation arithmetic expect; `confidence` rises
  linearly from 0.5 at `min_edge` to 1 at `min_edge + confidence_span`, so the risk layer
  sizes stronger forecasts larger without ever treating a barely-passing one as certain;
* `source` is `ml:<model id>`, so every trade traces back to the model that caused it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from slt.config import FeeConfig, MLSignalConfig
from slt.domain import Candle, CandleSeries, Signal
from slt.domain.candle import F64
from slt.features import DEFAULT_PARAMS, FEATURE_NAMES, FeatureParams, FeatureState
from slt.features import compute_features as _compute_features
from slt.strategy.base import SignalColumns

MTF = FEATURE_NAMES.index("mtf_trend")
ATR_PCT = FEATURE_NAMES.index("atr_pct")
_ALL_AGAINST = 1.0 - 1e-9


class ReturnModel(Protocol):
    """What the strategy needs of a model: an id and (long, short) net-return predictions."""

    @property
    def model_id(self) -> str: ...

    def predict(self, features: F64) -> tuple[F64, F64]: ...


@dataclass(frozen=True, slots=True)
class SignalRule:
    """The thresholds in force (`MLSignalConfig` with the relaxed switch applied)."""

    min_edge: float
    confidence_span: float
    mtf_filter: bool
    relaxed: bool
    round_trip: float = 0.0
    """Two taker fees and two slippages, fractions: net prediction + this = before fees."""

    @classmethod
    def from_config(cls, cfg: MLSignalConfig, fees: FeeConfig, *, relaxed: bool) -> SignalRule:
        round_trip = 2 * (fees.taker_rate + fees.slippage_pct)
        if not relaxed:
            return cls(cfg.min_edge, cfg.confidence_span, cfg.mtf_filter, relaxed, round_trip)
        edge = cfg.min_edge * cfg.relaxed_edge_factor - round_trip
        return cls(edge, cfg.confidence_span, cfg.mtf_filter, relaxed, round_trip)


def signal_columns(long: F64, short: F64, features: F64, rule: SignalRule) -> SignalColumns:
    """The rule of the module docstring over whole columns (one row per closed candle)."""
    long = np.where(np.isfinite(long), long, -np.inf)
    short = np.where(np.isfinite(short), short, -np.inf)
    side = np.where(long >= short, 1, -1).astype(np.int64)
    best = np.maximum(long, short)
    atr_pct = features[:, ATR_PCT]
    ok = (best > rule.min_edge) & np.isfinite(atr_pct)
    if rule.mtf_filter:
        agree = features[:, MTF] * side
        with np.errstate(invalid="ignore"):
            ok &= ~(agree <= -_ALL_AGAINST) if rule.relaxed else agree > 0
    direction = np.where(ok, side, 0).astype(np.int64)
    expected = np.where(ok, best + rule.round_trip, 0.0)
    strength = np.clip((best - rule.min_edge) / rule.confidence_span, 0.0, 1.0)
    confidence = np.where(ok, 0.5 + 0.5 * strength, 0.0)
    return SignalColumns(direction, expected, confidence, np.nan_to_num(atr_pct))


class MLStrategy:
    """Signals from a return model over the schema-v4 features (batch and live, same rule)."""

    def __init__(
        self,
        model: ReturnModel,
        rule: SignalRule,
        *,
        params: FeatureParams = DEFAULT_PARAMS,
        features: Callable[[CandleSeries], F64] | None = None,
    ) -> None:
        self.model = model
        self.rule = rule
        self.params = params
        self._features = features or (lambda s: _compute_features(s, params))

    @property
    def name(self) -> str:
        return f"ml:{self.model.model_id}"

    def batch(self, series: CandleSeries) -> SignalColumns:
        x = self._features(series)
        long, short = self.model.predict(x)
        return signal_columns(long, short, x, self.rule)

    def incremental(self, symbol: str) -> MLSymbolState:
        return MLSymbolState(symbol, self)


class MLSymbolState:
    """Live form: the incremental features of one symbol, scored one closed candle at a time."""

    def __init__(self, symbol: str, strategy: MLStrategy) -> None:
        self.symbol = symbol
        self.strategy = strategy
        self.features = FeatureState(strategy.params)
        self.last_row: F64 | None = None
        """The features the last candle was scored on (the live ledger's experience rows)."""

    def update(self, candle: Candle) -> Signal | None:
        row = self.features.update(candle)[None, :]
        self.last_row = row[0]
        strategy = self.strategy
        long, short = strategy.model.predict(row)
        cols = signal_columns(long, short, row, strategy.rule)
        return cols.signal(self.symbol, candle.close_time + 1, 0, strategy.name)
