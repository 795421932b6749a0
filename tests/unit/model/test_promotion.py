"""Promotion is gated by the stored checks: an unchecked model or one whose checks failed never
becomes champion; a checked, passing one does, and the report travels with the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from slt.config import load_settings
from slt.domain import CandleSeries
from slt.model.checks import CheckSettings
from slt.model.config import ModelConfig, XgbParams
from slt.model.errors import PromotionBlockedError
from slt.model.features import FeatureSpec
from slt.model.registry import ModelStatus, read_sidecar
from slt.model.service import (
    check_model,
    get_model,
    list_models,
    models_dir,
    promote_model,
    stored_checks,
    train_model,
)

CONFIG = ModelConfig(
    horizon_bars=15,
    walk_forward_folds=2,
    walk_forward_test_fraction=0.4,
    memory_limit_mb=2048,
    timeout_s=300,
    xgb=XgbParams(num_boost_round=40, early_stopping_rounds=10, nthread=1),
)
SMALL = CheckSettings(
    random_walk_symbols=2,
    random_walk_bars=6_000,
    control_max_rounds=30,
    lookahead_points=20,
    lookahead_series=1,
    lookahead_max_bars=3_000,
    recent_days=1.0,
)


def _days(series: CandleSeries, days: int) -> CandleSeries:
    return series.slice(len(series) - days * 1440, len(series))


async def test_only_a_checked_passing_model_becomes_champion(
    tmp_path: Path,
    sample: dict[str, CandleSeries],
    standin: FeatureSpec,
    peeking: FeatureSpec,
) -> None:
    settings = load_settings(data_dir=tmp_path, model=CONFIG.model_dump())
    series = [_days(sample["BTCUSDT"], 3), _days(sample["DOGEUSDT"], 3)]

    good = await train_model(settings, series, features=standin)
    with pytest.raises(PromotionBlockedError, match="has not been checked"):
        await promote_model(settings, good.model_id)
    stages: list[str] = []
    report = await check_model(
        settings,
        good.model_id,
        series,
        features=standin,
        check_settings=SMALL,
        progress=lambda stage, done, total: stages.append(stage),
    )
    assert report.passed, report.lines()
    assert {"lookahead", "random walk", "label permutation"} <= set(stages)
    stored = await get_model(settings, good.model_id)
    assert stored_checks(stored) == report
    assert stored.checks is not None and stored.checks["checked_ms"] > 0
    assert read_sidecar(models_dir(settings) / stored.file_name).checks == stored.checks
    champion = await promote_model(settings, good.model_id)
    assert champion.status is ModelStatus.CHAMPION

    leaky = await train_model(settings, series, features=peeking)
    bad = await check_model(
        settings, leaky.model_id, series, features=peeking, check_settings=SMALL
    )
    assert not bad.passed
    assert {r.name for r in bad.failures} >= {"lookahead"}
    with pytest.raises(PromotionBlockedError, match=r"failed its checks .*lookahead"):
        await promote_model(settings, leaky.model_id)
    statuses = {r.model_id: r.status for r in await list_models(settings)}
    assert statuses == {good.model_id: ModelStatus.CHAMPION, leaky.model_id: ModelStatus.CANDIDATE}
