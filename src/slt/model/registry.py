"""The model registry: model files under the data directory, listed in the database.

Each model is saved in XGBoost's own UBJ format as `<models_dir>/<id>.ubj`, next to a JSON
sidecar `<id>.json` holding its whole record, so a model file can be served (and checked)
without the database. The database row (`slt.storage.models`) lists it with its status
(candidate / champion / retired), its parent, what it was trained on and the file's sha256.
Files are written first (atomically: temp file, then rename), then the row; a failed insert
removes the files again, so a listed model always has its file.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.model.errors import ModelIntegrityError, ModelNotFoundError
from slt.storage.models import ModelExistsError, ModelRow, ModelRowNotFoundError, ModelStore

MODEL_SUFFIX = ".ubj"
SIDECAR_SUFFIX = ".json"


class ModelStatus(StrEnum):
    CANDIDATE = "candidate"
    CHAMPION = "champion"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """Everything known about one model. Times int UTC ms; returns in metrics are fractions.

    `feature_names` is the model's input order: the feature schema's names, then `direction`.
    `label_params` are the exits, costs and horizon H its labels were computed with.
    """

    model_id: str
    created_ms: int
    status: ModelStatus
    parent_id: str | None
    schema_version: int
    schema_hash: str
    feature_names: tuple[str, ...]
    interval: str
    symbols: tuple[str, ...]
    train_first_ms: int
    train_last_ms: int
    data_fingerprint: str
    label_horizon: int
    label_params: dict[str, Any]
    xgb_params: dict[str, Any]
    metrics: dict[str, Any]
    file_name: str = ""
    file_sha256: str = ""
    checks: dict[str, Any] | None = None
    """The latest bias and health check report (`CheckReport.to_dict()` plus `checked_ms`),
    None until the model was checked; promotion to champion requires a passing one."""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        out["feature_names"] = list(self.feature_names)
        out["symbols"] = list(self.symbols)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelRecord:
        return cls(
            model_id=str(d["model_id"]),
            created_ms=int(d["created_ms"]),
            status=ModelStatus(d["status"]),
            parent_id=None if d.get("parent_id") is None else str(d["parent_id"]),
            schema_version=int(d["schema_version"]),
            schema_hash=str(d["schema_hash"]),
            feature_names=tuple(str(n) for n in d["feature_names"]),
            interval=str(d["interval"]),
            symbols=tuple(str(s) for s in d["symbols"]),
            train_first_ms=int(d["train_first_ms"]),
            train_last_ms=int(d["train_last_ms"]),
            data_fingerprint=str(d["data_fingerprint"]),
            label_horizon=int(d["label_horizon"]),
            label_params=dict(d["label_params"]),
            xgb_params=dict(d["xgb_params"]),
            metrics=dict(d["metrics"]),
            file_name=str(d.get("file_name", "")),
            file_sha256=str(d.get("file_sha256", "")),
            checks=None if d.get("checks") is None else dict(d["checks"]),
        )


_META_KEYS = ("feature_names", "symbols", "label_params", "xgb_params", "metrics", "checks")


def new_model_id(created_ms: int, model: bytes) -> str:
    """`m<UTC yyyymmdd-HHMMSSmmm>-<8 hex of the model's sha256>`: sortable, and unique unless
    the same bytes are registered twice in one millisecond. Training is deterministic, so a
    retrain on unchanged data gives the same bytes: with seconds only, two such trainings in
    one second got one id and the second was refused as already registered."""
    seconds, millis = divmod(created_ms, 1000)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(seconds))
    return f"m{stamp}{millis:03d}-{hashlib.sha256(model).hexdigest()[:8]}"


def read_model_file(path: Path, sha256: str | None = None) -> bytes:
    """The bytes of a model file, checked against `sha256` when given."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelIntegrityError(
            f"model file {path} cannot be read ({exc.strerror}); restore it or retrain"
        ) from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ModelIntegrityError(
            f"model file {path} is not the file that was registered (sha256 differs); "
            "restore it or retrain"
        )
    return data


def read_sidecar(model_path: Path) -> ModelRecord:
    """The record stored next to a model file."""
    side = model_path.with_suffix(SIDECAR_SUFFIX)
    try:
        return ModelRecord.from_dict(orjson.loads(side.read_bytes()))
    except (OSError, orjson.JSONDecodeError, KeyError, ValueError) as exc:
        raise ModelIntegrityError(
            f"model metadata {side} is missing or unreadable ({exc}); restore it or retrain"
        ) from None


class ModelRegistry:
    """Model files in `models_dir`, rows in the database behind `engine` (already migrated)."""

    def __init__(self, engine: AsyncEngine, models_dir: Path) -> None:
        self.store = ModelStore(engine)
        self.models_dir = models_dir

    def path(self, record: ModelRecord) -> Path:
        return self.models_dir / record.file_name

    async def register(self, draft: ModelRecord, model: bytes) -> ModelRecord:
        """Save `model` and its record; returns the record with its file name and hash."""
        record = _with_file(draft, model)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        model_path = self.path(record)
        side_path = model_path.with_suffix(SIDECAR_SUFFIX)
        if model_path.exists() or await self.store.get(record.model_id) is not None:
            raise ModelExistsError(f"model {record.model_id!r} is already registered")
        _write_atomic(model_path, model)
        _write_atomic(side_path, orjson.dumps(record.to_dict(), option=orjson.OPT_SORT_KEYS))
        try:
            await self.store.add(_to_row(record))
        except BaseException:
            model_path.unlink(missing_ok=True)
            side_path.unlink(missing_ok=True)
            raise
        return record

    async def get(self, model_id: str) -> ModelRecord:
        row = await self.store.get(model_id)
        if row is None:
            raise ModelNotFoundError(f"no model {model_id!r}; see `slt model list`")
        return _from_row(row)

    async def list(self, status: ModelStatus | None = None) -> list[ModelRecord]:
        """Registered models, newest first."""
        rows = await self.store.list(None if status is None else status.value)
        return [_from_row(r) for r in rows]

    async def champion(self) -> ModelRecord | None:
        rows = await self.store.list(ModelStatus.CHAMPION.value)
        return _from_row(rows[0]) if rows else None

    async def set_status(self, model_id: str, status: ModelStatus) -> None:
        """Promote, demote or retire; a new champion retires the previous one."""
        try:
            await self.store.set_status(model_id, status.value)
        except ModelRowNotFoundError as exc:
            raise ModelNotFoundError(str(exc)) from None

    async def record_checks(self, model_id: str, checks: dict[str, Any]) -> ModelRecord:
        """Store `checks` (a check report as a dict) with the model, in its row and sidecar."""
        record = await self.get(model_id)
        d = record.to_dict()
        d["checks"] = checks
        updated = ModelRecord.from_dict(d)
        try:
            await self.store.set_meta(model_id, _to_row(updated).meta)
        except ModelRowNotFoundError as exc:
            raise ModelNotFoundError(str(exc)) from None
        side = self.path(updated).with_suffix(SIDECAR_SUFFIX)
        _write_atomic(side, orjson.dumps(updated.to_dict(), option=orjson.OPT_SORT_KEYS))
        return updated

    def read_model(self, record: ModelRecord) -> bytes:
        """The model's bytes, refused when the file is not the one registered."""
        return read_model_file(self.path(record), record.file_sha256)


def _with_file(draft: ModelRecord, model: bytes) -> ModelRecord:
    d = draft.to_dict()
    d["file_name"] = f"{draft.model_id}{MODEL_SUFFIX}"
    d["file_sha256"] = hashlib.sha256(model).hexdigest()
    return ModelRecord.from_dict(d)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _to_row(r: ModelRecord) -> ModelRow:
    d = r.to_dict()
    return ModelRow(
        model_id=r.model_id,
        created_ms=r.created_ms,
        status=r.status.value,
        parent_id=r.parent_id,
        schema_version=r.schema_version,
        schema_hash=r.schema_hash,
        interval=r.interval,
        train_first_ms=r.train_first_ms,
        train_last_ms=r.train_last_ms,
        data_fingerprint=r.data_fingerprint,
        label_horizon=r.label_horizon,
        file_name=r.file_name,
        file_sha256=r.file_sha256,
        meta={k: d[k] for k in _META_KEYS},
    )


def _from_row(row: ModelRow) -> ModelRecord:
    d: dict[str, Any] = {
        k: getattr(row, k)
        for k in (
            "model_id",
            "created_ms",
            "status",
            "parent_id",
            "schema_version",
            "schema_hash",
            "interval",
            "train_first_ms",
            "train_last_ms",
            "data_fingerprint",
            "label_horizon",
            "file_name",
            "file_sha256",
        )
    }
    d.update({k: row.meta.get(k) for k in _META_KEYS})
    return ModelRecord.from_dict(d)
