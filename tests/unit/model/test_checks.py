"""`run_checks` end to end on the bundled real candles: an honestly trained model passes every
check, a model trained on a feature that peeks ahead is blocked; and the schema check and
the inputs `run_checks` refuses."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from slt.config import FeeConfig, RiskConfig
from slt.domain import CandleSeries
from slt.domain.candle import DAY_MS
from slt.model.checks import (
    CheckJob,
    CheckReport,
    CheckSettings,
    record_label_params,
    run_check_job,
    run_checks,
    schema_check,
)
from slt.model.checks_leaks import label_end_ms
from slt.model.config import ModelConfig, XgbParams
from slt.model.errors import ModelError
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams
from slt.model.pipeline import save_candles, train_on_series
from slt.model.registry import ModelRecord, ModelStatus
from slt.model.worker import MIB, run_isolated
from slt.rules import ExchangeRules

from .conftest import MINUTE

H = 15
LABELS = LabelParams.from_config(RiskConfig(), FeeConfig(), H)
CONFIG = ModelConfig(
    horizon_bars=H,
    train_window_days=3,
    walk_forward_folds=2,
    walk_forward_test_fraction=0.4,
    xgb=XgbParams(num_boost_round=40, early_stopping_rounds=10, nthread=1),
)
SETTINGS = CheckSettings(
    random_walk_symbols=2,
    random_walk_bars=3000,
    control_max_rounds=30,
    lookahead_points=20,
    lookahead_series=2,
    lookahead_max_bars=1500,
    recent_days=1.0,
)
SYMBOLS = ("BTCUSDT", "DOGEUSDT")
CHECK_NAMES = {
    "schema",
    "ic_alarm",
    "train_test_overlap",
    "label_balance[long]",
    "label_balance[short]",
    "feature_importance",
    "lookahead",
    "random_walk",
    "label_permutation",
}


def last_days(series: CandleSeries, days: int) -> CandleSeries:
    return series.slice(len(series) - days * 1440, len(series))


def candles(sample: dict[str, CandleSeries]) -> list[CandleSeries]:
    """Five days: a three-day training window with two days of warm-up history before it."""
    return [last_days(sample[s], 5) for s in SYMBOLS]


def ticks_of(rules: ExchangeRules) -> dict[str, Decimal]:
    return {s: rules.get(s).tick_size for s in SYMBOLS}


def train(
    series: list[CandleSeries], spec: FeatureSpec, ticks: dict[str, Decimal]
) -> tuple[ModelRecord, bytes]:
    """Train as the service does (in process) and make its registry record."""
    out = train_on_series(series, spec, LABELS, CONFIG, ticks)
    rec = ModelRecord(
        model_id="m-test",
        created_ms=0,
        status=ModelStatus.CANDIDATE,
        parent_id=None,
        schema_version=spec.schema_version,
        schema_hash=spec.schema_hash,
        feature_names=(*spec.names, "direction"),
        interval=out.interval,
        symbols=out.symbols,
        train_first_ms=out.first_ms,
        train_last_ms=out.last_ms,
        data_fingerprint=out.fingerprint,
        label_horizon=H,
        label_params=LABELS.to_dict(),
        xgb_params={},
        metrics=out.metrics,
    )
    return rec, out.model


def test_an_honest_model_passes_every_check(
    sample: dict[str, CandleSeries], rules: ExchangeRules, standin: FeatureSpec
) -> None:
    series, ticks = candles(sample), ticks_of(rules)
    rec, model = train(series, standin, ticks)
    assert rec.train_first_ms >= int(series[0].open_time[-1]) - 3 * DAY_MS
    test_start = label_end_ms(rec, LABELS, MINUTE) + MINUTE
    steps: list[tuple[str, int, int]] = []
    report = run_checks(
        rec,
        model,
        series,
        CONFIG,
        test_start_ms=test_start,
        progress=lambda *step: steps.append(step),
        features=standin,
        ticks=ticks,
        settings=SETTINGS,
    )
    assert report.model_id == "m-test"
    assert report.passed, report.lines()
    assert report.failures == ()
    names = [r.name for r in report.results]
    assert len(names) == len(set(names))
    drift = {f"feature_drift[{n}]" for n in standin.names}
    assert set(names) == CHECK_NAMES | drift
    for name in CHECK_NAMES - {"feature_importance"}:
        assert report.get(name).passed, report.get(name)
    assert "test period starts" in report.get("train_test_overlap").detail
    assert "against the training rows" in report.get("train_test_overlap").detail
    # Progress runs through every stage in order and ends complete.
    assert steps[0] == ("schema", 0, 9) and steps[-1] == ("done", 9, 9)
    done = [d for _, d, _ in steps]
    assert done == sorted(done)
    # The report is what gets stored with the model: it survives JSON.
    assert CheckReport.from_dict(report.to_dict()) == report


def test_a_model_with_a_feature_that_peeks_ahead_is_blocked(
    sample: dict[str, CandleSeries], rules: ExchangeRules, peeking: FeatureSpec
) -> None:
    series, ticks = candles(sample), ticks_of(rules)
    rec, model = train(series, peeking, ticks)
    report = run_checks(
        rec, model, series, CONFIG, features=peeking, ticks=ticks, settings=SETTINGS
    )
    assert not report.passed
    failed = {r.name for r in report.failures}
    assert {"lookahead", "random_walk", "ic_alarm"} <= failed
    assert "f11 of BTCUSDT" in report.get("lookahead").detail
    assert report.get("feature_importance").value is not None
    assert report.lines()[0].startswith("FAIL ")


def test_the_check_job_gives_the_same_report_in_the_capped_child(
    tmp_path: Path,
    sample: dict[str, CandleSeries],
    rules: ExchangeRules,
    standin: FeatureSpec,
    child_jobs: ModuleType,
) -> None:
    series, ticks = candles(sample), ticks_of(rules)
    rec, model = train(series, standin, ticks)
    path = tmp_path / "candles.npz"
    save_candles(series, path)
    job = CheckJob(
        str(path),
        rec,
        model,
        CONFIG,
        standin,
        {s: str(t) for s, t in ticks.items()},
        None,
        SETTINGS,
    )
    here = run_checks(rec, model, series, CONFIG, features=standin, ticks=ticks, settings=SETTINGS)
    assert run_check_job(job, lambda *_: None) == here
    isolated = run_isolated(run_check_job, job, memory_limit_bytes=2048 * MIB, timeout_s=60)
    assert isolated == here


# The schema check and refused inputs ----------------------------------------------------------


def a_record(spec: FeatureSpec, **overrides: object) -> ModelRecord:
    rec = ModelRecord(
        model_id="m-x",
        created_ms=0,
        status=ModelStatus.CANDIDATE,
        parent_id=None,
        schema_version=spec.schema_version,
        schema_hash=spec.schema_hash,
        feature_names=(*spec.names, "direction"),
        interval="1m",
        symbols=("BTCUSDT",),
        train_first_ms=0,
        train_last_ms=1,
        data_fingerprint="",
        label_horizon=H,
        label_params=LABELS.to_dict(),
        xgb_params={},
        metrics={},
    )
    return replace(rec, **overrides)  # type: ignore[arg-type]


def test_schema_check_passes_on_the_running_schema(standin: FeatureSpec) -> None:
    r = schema_check(a_record(standin), standin)
    assert (r.name, r.passed, r.severity) == ("schema", True, "fail")


@pytest.mark.parametrize(
    "change",
    ["hash", "order", "no direction", "extra input"],
)
def test_schema_check_fails_on_another_schema(standin: FeatureSpec, change: str) -> None:
    names = (*standin.names, "direction")
    table: dict[str, dict[str, object]] = {
        "hash": {"schema_hash": "f" * 64},
        "order": {"feature_names": (names[1], names[0], *names[2:])},
        "no direction": {"feature_names": standin.names},
        "extra input": {"feature_names": (*standin.names, "extra", "direction")},
    }
    overrides = table[change]
    r = schema_check(a_record(standin, **overrides), standin)
    assert (r.passed, r.severity, r.blocking) == (False, "fail", True)
    assert "the running code computes v0" in r.detail


def test_label_parameters_come_from_the_record(standin: FeatureSpec) -> None:
    assert record_label_params(a_record(standin)) == LABELS
    extra = a_record(standin, label_params={**LABELS.to_dict(), "funding": 0.0})
    assert record_label_params(extra) == LABELS
    partial = {k: v for k, v in LABELS.to_dict().items() if k != "taker_rate"}
    with pytest.raises(ModelError, match=r"label parameters \['taker_rate'\].*retrain"):
        record_label_params(a_record(standin, label_params=partial))


def test_run_checks_refuses_no_candles_and_another_interval(
    sample: dict[str, CandleSeries], standin: FeatureSpec
) -> None:
    rec = a_record(standin)
    btc = sample["BTCUSDT"]
    with pytest.raises(ModelError, match="no candles"):
        run_checks(rec, b"", [btc.slice(0, 0)], CONFIG, features=standin)
    with pytest.raises(ModelError, match="candles are 5m but model m-x is 1m"):
        run_checks(rec, b"", [replace(btc, interval="5m")], CONFIG, features=standin)
