"""The service end to end on the bundled real candles: train in the capped child process,
register a candidate, list / show / promote it, and serve it only on its own schema."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from slt.config import load_settings
from slt.domain import CandleSeries
from slt.model.config import ModelConfig, XgbParams
from slt.model.errors import ModelNotFoundError, SchemaMismatchError, TrainingError
from slt.model.features import FeatureSpec
from slt.model.registry import ModelStatus
from slt.model.service import (
    get_model,
    list_models,
    load_predictor,
    set_model_status,
    train_model,
)

CONFIG = ModelConfig(
    horizon_bars=15,
    walk_forward_folds=2,
    walk_forward_test_fraction=0.4,
    memory_limit_mb=2048,
    timeout_s=120,
    xgb=XgbParams(num_boost_round=40, early_stopping_rounds=10, nthread=1),
)


def _days(series: CandleSeries, days: int) -> CandleSeries:
    return series.slice(len(series) - days * 1440, len(series))


async def test_train_list_show_promote_and_serve(
    tmp_path: Path, sample: dict[str, CandleSeries], standin: FeatureSpec
) -> None:
    settings = load_settings(data_dir=tmp_path)
    series = [_days(sample["BTCUSDT"], 3), _days(sample["DOGEUSDT"], 3)]
    stages: list[str] = []
    rec = await train_model(
        settings,
        series,
        config=CONFIG,
        features=standin,
        progress=lambda stage, done, total: stages.append(stage),
    )
    assert {"dataset", "walk-forward", "final fit"} <= set(stages)
    assert rec.status is ModelStatus.CANDIDATE and rec.parent_id is None
    assert rec.symbols == ("BTCUSDT", "DOGEUSDT")
    assert rec.schema_hash == standin.schema_hash
    assert rec.feature_names == (*standin.names, "direction")
    assert rec.train_first_ms == int(series[0].open_time[0])
    assert rec.train_last_ms < int(series[0].open_time[-1])  # the unrealised tail is left out
    assert rec.label_horizon == 15 and rec.label_params["stop_loss_pct"] == 0.01
    assert rec.xgb_params["tree_method"] == "hist" and rec.xgb_params["seed"] == 20_240_101
    oos = rec.metrics["walk_forward"]["oos"]
    assert oos["rows"] > 1000 and len(rec.metrics["walk_forward"]["folds"]) == 2
    assert (tmp_path / "models" / rec.file_name).is_file()
    assert not any((tmp_path / "tmp").iterdir())  # the candle hand-off file is gone

    assert [r.model_id for r in await list_models(settings)] == [rec.model_id]
    assert await get_model(settings, rec.model_id) == rec
    with pytest.raises(ModelNotFoundError):
        await get_model(settings, "m-nope")

    assert await load_predictor(settings, features=standin) is None  # no champion yet
    await set_model_status(settings, rec.model_id, ModelStatus.CHAMPION)
    predictor = await load_predictor(settings, features=standin)
    assert predictor is not None and predictor.model_id == rec.model_id
    long, short = predictor.predict(standin.compute(series[0])[-50:])
    assert np.isfinite(long).all() and np.isfinite(short).all()
    other = replace(standin, schema_hash="f" * 64)
    with pytest.raises(SchemaMismatchError):
        await load_predictor(settings, features=other)

    # Retraining names the champion as the parent of the new candidate.
    again = await train_model(settings, series, config=CONFIG, features=standin)
    assert again.parent_id == rec.model_id and again.status is ModelStatus.CANDIDATE
    assert again.data_fingerprint == rec.data_fingerprint


async def test_a_failed_training_is_a_training_error(
    tmp_path: Path, sample: dict[str, CandleSeries], standin: FeatureSpec
) -> None:
    settings = load_settings(data_dir=tmp_path)
    tiny = [sample["BTCUSDT"].slice(0, 120)]
    with pytest.raises(TrainingError, match="training window too small"):
        await train_model(settings, tiny, config=CONFIG, features=standin)
    assert await list_models(settings) == []
    with pytest.raises(TrainingError, match="model interval is 1m"):
        await train_model(
            settings, [replace(tiny[0], interval="5m")], config=CONFIG, features=standin
        )
