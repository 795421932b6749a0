"""The feature schema the model is trained and served with, as one value.

The model layer never reaches into the feature code directly: it takes a `FeatureSpec` (the
ordered names, the schema version and hash, and the function computing the matrix). The
default spec comes from `slt.features`, imported only when asked for, so the model layer and
its tests work against any matrix with the same contract, and a model trained on one schema
can be recognised and refused when the running code computes another.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from slt.domain import CandleSeries
from slt.domain.candle import F64
from slt.model.errors import ModelError

ComputeFeatures = Callable[[CandleSeries], F64]


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """Ordered feature names, schema identity, and `compute(series) -> (n, len(names))`.

    `compute` must be picklable (a module-level function or a `functools.partial` of one)
    because training runs it in a child process.
    """

    names: tuple[str, ...]
    schema_version: int
    schema_hash: str
    compute: ComputeFeatures

    def matrix(self, series: CandleSeries) -> F64:
        """The feature matrix of `series`, checked against the declared schema."""
        x = np.asarray(self.compute(series), dtype=np.float64)
        if x.shape != (len(series), len(self.names)):
            raise ModelError(
                f"feature function returned shape {x.shape} for {series.symbol}, expected "
                f"({len(series)}, {len(self.names)}) for schema {self.schema_hash[:12]}"
            )
        return x


class FeaturesUnavailableError(ModelError):
    """The feature layer is not installed or lacks the expected API."""


def default_feature_spec(params: Any = None) -> FeatureSpec:
    """The spec of `slt.features` with `params` (default: its DEFAULT_PARAMS)."""
    try:
        mod = importlib.import_module("slt.features")
        compute = mod.compute_features
        names = tuple(str(n) for n in mod.FEATURE_NAMES)
        version = int(mod.SCHEMA_VERSION)
        chosen = mod.DEFAULT_PARAMS if params is None else params
        digest = str(mod.schema_hash(chosen))
    except (ImportError, AttributeError) as exc:
        raise FeaturesUnavailableError(
            f"the feature layer slt.features is not usable ({exc}); it must provide "
            "compute_features, FEATURE_NAMES, SCHEMA_VERSION, schema_hash and DEFAULT_PARAMS"
        ) from None
    return FeatureSpec(names, version, digest, functools.partial(compute, params=chosen))
