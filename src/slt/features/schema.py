"""Schema v4: the twelve feature names, their parameters, and the hash a model is bound to.

A trained model stores `schema_hash(params)`. At prediction time the predictor recomputes the
hash of the feature layer it is fed by and refuses to predict when the two differ
(`SchemaMismatchError`): a column that means something else under the same name is the
quietest way to ruin a model.

The hash is the sha256 hex digest of one canonical JSON document::

    {"feature_names": [...12 names in column order...],
     "params": {<every FeatureParams field>: <value>, ...},
     "schema_version": 4}

serialised with sorted keys, no whitespace (``separators=(",", ":")``) and ASCII only;
tuples become lists, ints stay ints and floats are written by Python's shortest round-trip
``repr``. It depends on nothing but those values, so it is the same on every machine, run
and Python version; changing any name, their order, the version or any parameter changes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from slt.domain.candle import interval_ms

SCHEMA_VERSION = 4

FEATURE_NAMES: tuple[str, ...] = (
    "fvg_dist_atr",
    "fvg_size_atr",
    "ob_balance_atr",
    "sweep_recent",
    "struct_break",
    "log_bars_since_break",
    "swing_trend",
    "atr_pct",
    "vol_z",
    "mtf_trend",
    "ret_k_norm",
    "pd_position",
)
"""Column order of every feature matrix (batch rows and incremental vectors alike)."""

N_FEATURES = len(FEATURE_NAMES)

FEATURE_UNITS: dict[str, str] = {
    "fvg_dist_atr": "ATR of bar t; + = the gap is above the close; clipped to [-10, 10]",
    "fvg_size_atr": "ATR of the gap's creation bar, signed by direction (+ bull, - bear)",
    "ob_balance_atr": "ATR of bar t, in [-10, 10]",
    "sweep_recent": "dimensionless, in [-1, 1]",
    "struct_break": "event code in {-2, -1, 0, 1, 2}",
    "log_bars_since_break": "log(1 + bars), bars capped at break_window",
    "swing_trend": "sign in {-1, 0, 1}",
    "atr_pct": "fraction of the close (0.01 = 1 %)",
    "vol_z": "z-score, clipped to [-5, 5]",
    "mtf_trend": "mean of signs, in {-1, -2/3, -1/3, 0, 1/3, 2/3, 1} (±1, ±1/3 unless an EMA tie)",
    "ret_k_norm": "return over ret_k bars in units of ATR·sqrt(ret_k)",
    "pd_position": "fraction of the dealing range, clipped to [-0.5, 1.5]",
}


class SchemaMismatchError(Exception):
    """A model was trained on another feature schema than the one it is asked to score.

    Retrain the model on features of the current schema, or run the feature layer with the
    parameters the model was trained with; never predict across schemas.
    """

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(
            f"feature schema hash {actual[:12]}… does not match the model's {expected[:12]}…; "
            "retrain the model or use the feature parameters it was trained with"
        )
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class FeatureParams:
    """Every numeric knob of the feature layer. All bar counts are rows of the base series."""

    atr_period: int = 14
    """Wilder ATR period."""
    pivot_left: int = 5
    """Fractal pivot: bars before the pivot that must be strictly lower (highs)/higher (lows)."""
    pivot_right: int = 5
    """Fractal pivot: bars after the pivot that must not exceed it; the confirmation delay."""
    fvg_min_atr: float = 0.1
    """Smallest fair value gap, in ATR of its creation bar."""
    fvg_max_age: int = 1440
    """An FVG counts on bars created .. created + fvg_max_age - 1."""
    fvg_max_count: int = 64
    """Live FVGs kept; creating one more drops the oldest."""
    ob_max_age: int = 2880
    """An order block counts on bars created .. created + ob_max_age - 1."""
    sweep_levels: int = 5
    """Liquidity pool depth per side: the most recently confirmed untaken swing levels."""
    sweep_window: int = 10
    """Bars over which a sweep's signal decays linearly to zero."""
    break_window: int = 1440
    """Bars a structure break stays in `struct_break`; cap of `log_bars_since_break`."""
    vol_window: int = 60
    """Bars in the volume z-score window, bar t included."""
    ret_k: int = 15
    """Lag of `ret_k_norm` in bars."""
    mtf_intervals: tuple[str, ...] = ("5m", "15m", "1h")
    """Higher timeframes averaged by `mtf_trend`, resampled from the base candles."""
    ema_fast: int = 20
    """Fast EMA period on each higher timeframe (in candles of that timeframe)."""
    ema_slow: int = 50
    """Slow EMA period; also the completed-candle warm-up of each higher timeframe."""
    dist_cap: float = 10.0
    """Clip of `fvg_dist_atr` and cap of each side of `ob_balance_atr`, in ATR."""
    vol_z_clip: float = 5.0
    """Clip of `vol_z`."""
    pd_low: float = -0.5
    """Lower clip of `pd_position`."""
    pd_high: float = 1.5
    """Upper clip of `pd_position`."""
    base_interval: str = "1m"
    """Interval of the candles the features are computed on."""

    def __post_init__(self) -> None:
        positive = (
            "atr_period",
            "pivot_left",
            "pivot_right",
            "fvg_max_age",
            "fvg_max_count",
            "ob_max_age",
            "sweep_levels",
            "sweep_window",
            "break_window",
            "vol_window",
            "ret_k",
            "ema_fast",
            "ema_slow",
        )
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"FeatureParams.{name} must be an int >= 1, got {value!r}")
        if not (self.fvg_min_atr >= 0.0):
            raise ValueError(f"FeatureParams.fvg_min_atr must be >= 0, got {self.fvg_min_atr}")
        if not (self.dist_cap > 0.0 and self.vol_z_clip > 0.0):
            raise ValueError("FeatureParams.dist_cap and vol_z_clip must be > 0")
        if not (self.pd_low < self.pd_high):
            raise ValueError("FeatureParams.pd_low must be below pd_high")
        if not self.mtf_intervals:
            raise ValueError("FeatureParams.mtf_intervals needs at least one interval")
        base = interval_ms(self.base_interval)
        for name in self.mtf_intervals:
            period = interval_ms(name)
            if period <= base or period % base:
                raise ValueError(
                    f"higher timeframe {name} must be a multiple of the base interval "
                    f"{self.base_interval} and longer than it"
                )

    @property
    def mtf_periods_ms(self) -> tuple[int, ...]:
        """Lengths of `mtf_intervals` in ms."""
        return tuple(interval_ms(name) for name in self.mtf_intervals)

    @property
    def ob_capacity(self) -> int:
        """Most order blocks of one side that can be alive at once (no block is ever dropped).

        Every block consumes a distinct swing pivot; two pivots of one side are more than
        min(L, R) bars apart, and all pivots broken within one `ob_max_age` span were confirmed
        after the first of those breaks (minus R). Hence this bound; see order_blocks.py.
        """
        return self.ob_max_age // (min(self.pivot_left, self.pivot_right) + 1) + 3

    def as_dict(self) -> dict[str, Any]:
        """Field values in declaration order, tuples as lists (the hash's `params`)."""
        out: dict[str, Any] = {}
        raw = asdict(self)
        for f in fields(self):
            value = raw[f.name]
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


DEFAULT_PARAMS = FeatureParams()


def schema_hash(params: FeatureParams = DEFAULT_PARAMS) -> str:
    """sha256 hex of the canonical JSON of version, names and params (see module docstring)."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "feature_names": list(FEATURE_NAMES),
        "params": params.as_dict(),
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def check_schema(expected_hash: str, params: FeatureParams = DEFAULT_PARAMS) -> None:
    """Raise `SchemaMismatchError` unless `params` hash to `expected_hash`."""
    actual = schema_hash(params)
    if actual != expected_hash:
        raise SchemaMismatchError(expected_hash, actual)
