"""The model registry on SQLite and PostgreSQL: a record comes back exactly as registered,
statuses keep one champion, and the migration creates the table on both."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.model.registry import ModelRecord, ModelRegistry, ModelStatus, new_model_id
from slt.storage import current_revision, head_revision

pytestmark = pytest.mark.integration

MODEL = b"{not really a model, the registry does not parse it}"


def record(created_ms: int, **kw: object) -> ModelRecord:
    base: dict[str, object] = {
        "model_id": new_model_id(created_ms, MODEL + str(created_ms).encode()),
        "created_ms": created_ms,
        "status": ModelStatus.CANDIDATE,
        "parent_id": None,
        "schema_version": 4,
        "schema_hash": "ab" * 32,
        "feature_names": ("fvg_dist_atr", "fvg_size_atr", "direction"),
        "interval": "1m",
        "symbols": ("BTCUSDT", "LTCUSDT"),
        "train_first_ms": 1_749_551_700_000,
        "train_last_ms": 1_750_761_060_000,
        "data_fingerprint": "cd" * 32,
        "label_horizon": 15,
        "label_params": {"horizon_bars": 15, "stop_loss_pct": 0.01, "slippage_pct": 0.0002},
        "xgb_params": {"max_depth": 6, "eta": 0.05, "seed": 20240101, "tree_method": "hist"},
        "metrics": {
            "walk_forward": {"oos": {"ic": 0.0123456789012345, "hit_rate": None}, "folds": []},
            "fit": {"best_iteration": 17},
        },
    }
    base.update(kw)
    return ModelRecord(**base)  # type: ignore[arg-type]


async def test_migration_reaches_the_registry_revision(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SELECT COUNT(*) FROM models")


async def test_record_round_trip_and_champion(engine: AsyncEngine, tmp_path: Path) -> None:
    reg = ModelRegistry(engine, tmp_path / "models")
    first = await reg.register(record(1_750_000_000_000), MODEL)
    second = await reg.register(
        record(1_750_000_060_000, parent_id=first.model_id, status=ModelStatus.CHAMPION), MODEL
    )
    assert await reg.get(first.model_id) == first
    got = await reg.get(second.model_id)
    assert got == second
    assert got.metrics["walk_forward"]["oos"]["ic"] == 0.0123456789012345  # exact float
    assert got.parent_id == first.model_id and got.feature_names[-1] == "direction"
    assert reg.read_model(got) == MODEL
    assert [r.model_id for r in await reg.list()] == [second.model_id, first.model_id]
    await reg.set_status(first.model_id, ModelStatus.CHAMPION)
    champ = await reg.champion()
    assert champ is not None and champ.model_id == first.model_id
    assert (await reg.get(second.model_id)).status is ModelStatus.RETIRED
