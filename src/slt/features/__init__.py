"""Feature layer: ICT/SMC primitives and the 12-feature schema v4, batch and incremental.

See README.md in this package for every feature's definition, unit and warm-up, and the
deliberate readings of FEATURES.md.

Public API:

* ``compute_features(series, params=DEFAULT_PARAMS) -> F64``: (n, 12) batch matrix.
* ``FeatureState(params)``: one symbol, ``.update(candle) -> F64`` (12,), ``.replay(series)``.
* ``MultiSymbolFeatures(symbols, params)``: ``.update(candles) -> dict[str, F64]``.
* ``FEATURE_NAMES``, ``SCHEMA_VERSION``, ``FeatureParams``, ``DEFAULT_PARAMS``,
  ``schema_hash(params)``, ``check_schema``, ``SchemaMismatchError``.
* ``resample``: causal higher-timeframe candles; ``slt.features.primitives``: the batch
  primitives (swings, structure, order blocks, FVGs, liquidity) as per-bar arrays.
"""

from pathlib import Path

from slt.features._numba_cache import drop_stale_cache
from slt.features.atr import atr_batch
from slt.features.batch import compute_features
from slt.features.incremental import FeatureState, MultiSymbolFeatures
from slt.features.mtf import Resampled, resample
from slt.features.schema import (
    DEFAULT_PARAMS,
    FEATURE_NAMES,
    FEATURE_UNITS,
    SCHEMA_VERSION,
    FeatureParams,
    SchemaMismatchError,
    check_schema,
    schema_hash,
)

drop_stale_cache(Path(__file__).parent, atr_batch)

__all__ = [
    "DEFAULT_PARAMS",
    "FEATURE_NAMES",
    "FEATURE_UNITS",
    "SCHEMA_VERSION",
    "FeatureParams",
    "FeatureState",
    "MultiSymbolFeatures",
    "Resampled",
    "SchemaMismatchError",
    "check_schema",
    "compute_features",
    "resample",
    "schema_hash",
]
