"""Serving a registered model: feature rows in, expected net trade returns out.

A model only means something on the features it was trained on. The predictor is built for a
given running feature schema (its hash) and refuses to exist — `SchemaMismatchError` — when the
model was trained on another one, instead of silently feeding it columns that mean something
else. It also refuses a model file that is not the registered one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from slt.domain.candle import F64
from slt.model.dataset import DIRECTION
from slt.model.errors import SchemaMismatchError
from slt.model.registry import ModelRecord, read_model_file, read_sidecar
from slt.model.train import load_booster, predict


class Predictor:
    """Expected net return (fraction of notional) of a long and a short at each feature row."""

    def __init__(self, record: ModelRecord, model: bytes, *, schema_hash: str, nthread: int = 1):
        check_schema(record, schema_hash)
        if not record.feature_names or record.feature_names[-1] != DIRECTION:
            raise SchemaMismatchError(
                f"model {record.model_id} does not take a {DIRECTION!r} input last; it was not "
                "trained by this version of the model layer — retrain it"
            )
        self.record = record
        self.n_features = len(record.feature_names) - 1
        self._booster = load_booster(model, nthread)

    @classmethod
    def from_file(cls, model_path: Path, *, schema_hash: str, nthread: int = 1) -> Predictor:
        """Load `<id>.ubj` with its `<id>.json` sidecar (no database needed)."""
        record = read_sidecar(model_path)
        check_schema(record, schema_hash)
        return cls(
            record,
            read_model_file(model_path, record.file_sha256),
            schema_hash=schema_hash,
            nthread=nthread,
        )

    @property
    def model_id(self) -> str:
        return self.record.model_id

    def predict(self, features: F64) -> tuple[F64, F64]:
        """(long, short) predictions for `features` of shape (n, schema width); NaN = missing."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise SchemaMismatchError(
                f"model {self.model_id} takes {self.n_features} features "
                f"({', '.join(self.record.feature_names[:-1])}), got an array of shape {x.shape}"
            )
        n = x.shape[0]
        both = np.empty((2 * n, self.n_features + 1), dtype=np.float64)
        both[:n, :-1] = x
        both[:n, -1] = 1.0
        both[n:, :-1] = x
        both[n:, -1] = -1.0
        out = predict(self._booster, both)
        return out[:n].copy(), out[n:].copy()


def check_schema(record: ModelRecord, schema_hash: str) -> None:
    """Raise `SchemaMismatchError` unless `record` was trained on the `schema_hash` features."""
    if record.schema_hash != schema_hash:
        raise SchemaMismatchError(
            f"model {record.model_id} was trained on feature schema v{record.schema_version} "
            f"(hash {record.schema_hash[:12]}…) but the running code computes schema hash "
            f"{schema_hash[:12]}…; its inputs would mean something else, so it will not predict. "
            "Train a new model on the current features (`slt train`) or run the code version "
            "the model was trained with"
        )
