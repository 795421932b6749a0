"""Registry and predictor on SQLite: records round-trip, one champion at a time, files are
checked, and a model refuses to predict on a feature schema it was not trained on.
(The same round trip on PostgreSQL is in tests/integration/model.)"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.config import FeeConfig, RiskConfig
from slt.model.config import XgbParams
from slt.model.dataset import build_dataset
from slt.model.errors import ModelIntegrityError, ModelNotFoundError, SchemaMismatchError
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams
from slt.model.predictor import Predictor
from slt.model.registry import ModelRecord, ModelRegistry, ModelStatus, new_model_id
from slt.model.train import fit, load_booster, predict
from slt.storage import create_engine, migrate
from slt.storage.models import ModelExistsError

from .child_jobs import STANDIN_NAMES, peeking_features
from .conftest import MINUTE, random_walk

H = 15


@pytest.fixture(scope="module")
def trained() -> tuple[bytes, np.ndarray]:
    """A small real model and some feature rows (12 columns, no direction)."""
    spec = FeatureSpec(STANDIN_NAMES, 0, "s" * 64, peeking_features)
    params = LabelParams.from_config(RiskConfig(), FeeConfig(), H)
    ds = build_dataset([random_walk("AAAUSDT", 3000, 1)], spec, params)
    result = fit(
        ds,
        XgbParams(num_boost_round=30, nthread=1),
        eval_fraction=0.2,
        gap_ms=H * MINUTE,
        winsor_quantile=0.001,
    )
    return result.model, ds.x[ds.direction > 0][:200, :-1]


def draft(model: bytes, created_ms: int, **kw: object) -> ModelRecord:
    base: dict[str, object] = {
        "model_id": new_model_id(created_ms, model),
        "created_ms": created_ms,
        "status": ModelStatus.CANDIDATE,
        "parent_id": None,
        "schema_version": 4,
        "schema_hash": "ab" * 32,
        "feature_names": (*(f"f{i}" for i in range(12)), "direction"),
        "interval": "1m",
        "symbols": ("AAAUSDT", "BBBUSDT"),
        "train_first_ms": 1_749_551_700_000,
        "train_last_ms": 1_750_761_060_000,
        "data_fingerprint": "cd" * 32,
        "label_horizon": H,
        "label_params": {"horizon_bars": H, "stop_loss_pct": 0.01, "partial_take_profit": True},
        "xgb_params": {"max_depth": 6, "eta": 0.05, "seed": 7},
        "metrics": {"walk_forward": {"oos": {"ic": 0.012, "hit_rate": None}}, "rows": 123},
    }
    base.update(kw)
    return ModelRecord(**base)  # type: ignore[arg-type]


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[ModelRegistry]:
    engine: AsyncEngine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'slt.db'}")
    await migrate(engine)
    try:
        yield ModelRegistry(engine, tmp_path / "models")
    finally:
        await engine.dispose()


# 2000-01-01 to 2200-01-01 UTC: four-digit years, where the text sorts like the time
_TIMES = st.integers(946_684_800_000, 7_258_118_400_000)


@given(a=_TIMES, b=_TIMES, model=st.binary(max_size=64))
def test_model_ids_sort_by_time_and_differ_by_the_millisecond(a: int, b: int, model: bytes) -> None:
    """Training is deterministic: a retrain on the same data within one second gives the same
    bytes, and must still get an id of its own (and a later one)."""
    ida, idb = new_model_id(a, model), new_model_id(b, model)
    assert (ida < idb) == (a < b) and (ida == idb) == (a == b)
    assert ida.startswith("m") and len(ida) == len("m20250615-120000000-") + 8


async def test_register_and_read_back(
    registry: ModelRegistry, trained: tuple[bytes, np.ndarray]
) -> None:
    model, _ = trained
    saved = await registry.register(draft(model, 1_750_000_000_000), model)
    assert saved.file_name == f"{saved.model_id}.ubj"
    assert saved.file_sha256 == hashlib.sha256(model).hexdigest()
    assert saved.model_id.startswith("m20250615-")
    path = registry.path(saved)
    assert path.read_bytes() == model and path.with_suffix(".json").is_file()
    got = await registry.get(saved.model_id)
    assert got == saved
    assert registry.read_model(got) == model
    with pytest.raises(ModelExistsError):
        await registry.register(draft(model, 1_750_000_000_000), model)
    assert registry.read_model(got) == model  # a refused duplicate leaves the original alone
    with pytest.raises(ModelNotFoundError, match="slt model list"):
        await registry.get("nope")


async def test_one_champion_at_a_time(
    registry: ModelRegistry, trained: tuple[bytes, np.ndarray]
) -> None:
    model, _ = trained
    ids = []
    for k in range(3):
        rec = await registry.register(draft(model, 1_750_000_000_000 + k * 1000), model)
        ids.append(rec.model_id)
    assert [r.model_id for r in await registry.list()] == ids[::-1]  # newest first
    assert await registry.champion() is None
    await registry.set_status(ids[0], ModelStatus.CHAMPION)
    await registry.set_status(ids[2], ModelStatus.CHAMPION)
    champ = await registry.champion()
    assert champ is not None and champ.model_id == ids[2]
    statuses = {r.model_id: r.status for r in await registry.list()}
    assert statuses == {
        ids[0]: ModelStatus.RETIRED,
        ids[1]: ModelStatus.CANDIDATE,
        ids[2]: ModelStatus.CHAMPION,
    }
    assert [r.model_id for r in await registry.list(ModelStatus.CANDIDATE)] == [ids[1]]
    with pytest.raises(ModelNotFoundError):
        await registry.set_status("nope", ModelStatus.RETIRED)


async def test_a_swapped_file_is_refused(
    registry: ModelRegistry, trained: tuple[bytes, np.ndarray]
) -> None:
    model, _ = trained
    rec = await registry.register(draft(model, 1_750_000_000_000), model)
    registry.path(rec).write_bytes(model[:-1] + b"\x00")
    with pytest.raises(ModelIntegrityError, match="not the file that was registered"):
        registry.read_model(rec)
    with pytest.raises(ModelIntegrityError):
        Predictor.from_file(registry.path(rec), schema_hash=rec.schema_hash)
    registry.path(rec).unlink()
    with pytest.raises(ModelIntegrityError, match="cannot be read"):
        registry.read_model(rec)


async def test_predictor_refuses_another_feature_schema(
    registry: ModelRegistry, trained: tuple[bytes, np.ndarray]
) -> None:
    model, x = trained
    rec = await registry.register(draft(model, 1_750_000_000_000), model)
    with pytest.raises(SchemaMismatchError) as err:
        Predictor(rec, model, schema_hash="ef" * 32)
    text = str(err.value)
    assert rec.model_id in text and "abababababab" in text and "efefefefefef" in text
    assert "slt train" in text
    with pytest.raises(SchemaMismatchError):
        Predictor.from_file(registry.path(rec), schema_hash="ef" * 32)
    p = Predictor.from_file(registry.path(rec), schema_hash="ab" * 32)
    with pytest.raises(SchemaMismatchError, match="takes 12 features"):
        p.predict(x[:, :11])
    long, short = p.predict(x)
    booster = load_booster(model)
    assert np.array_equal(long, predict(booster, np.column_stack([x, np.ones(len(x))])))
    assert np.array_equal(short, predict(booster, np.column_stack([x, -np.ones(len(x))])))
    assert not np.array_equal(long, short)
