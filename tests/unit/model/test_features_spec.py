"""The model is bound to a feature schema through `FeatureSpec`; the default spec comes from
`slt.features` and says clearly when that layer is missing its API."""

from __future__ import annotations

import pickle
import sys
from types import ModuleType

import numpy as np
import pytest

from slt.domain import CandleSeries
from slt.domain.candle import F64
from slt.model.features import FeaturesUnavailableError, default_feature_spec

from .conftest import random_walk


def _compute(series: CandleSeries, params: object = None) -> F64:
    return np.full((len(series), 2), float(len(str(params))))


def test_default_spec_binds_names_version_hash_and_params(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = ModuleType("slt.features")
    fake.compute_features = _compute  # type: ignore[attr-defined]
    fake.FEATURE_NAMES = ("a", "b")  # type: ignore[attr-defined]
    fake.SCHEMA_VERSION = 4  # type: ignore[attr-defined]
    fake.DEFAULT_PARAMS = "default"  # type: ignore[attr-defined]
    fake.schema_hash = lambda p: f"hash-of-{p}"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "slt.features", fake)
    spec = default_feature_spec()
    assert (spec.names, spec.schema_version, spec.schema_hash) == (("a", "b"), 4, "hash-of-default")
    s = random_walk("AAAUSDT", 10, 0)
    assert spec.matrix(s).shape == (10, 2) and spec.matrix(s)[0, 0] == len("default")
    other = default_feature_spec("tuned")
    assert other.schema_hash == "hash-of-tuned" and other.matrix(s)[0, 0] == len("tuned")
    # Picklable for the training child as long as the compute function is module-level.
    assert pickle.loads(pickle.dumps(spec.compute.func)) is _compute  # type: ignore[attr-defined]


def test_a_feature_layer_without_the_api_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "slt.features", ModuleType("slt.features"))
    with pytest.raises(FeaturesUnavailableError, match="compute_features, FEATURE_NAMES"):
        default_feature_spec()
