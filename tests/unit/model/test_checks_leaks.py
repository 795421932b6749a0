"""The leak checks: feature causality by truncation, the two null controls of the whole
pipeline, the out-of-sample IC alarm, and the separation of training and test periods.

Every check is shown passing on an honest case and failing on a case built to break it."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import FeeConfig, RiskConfig
from slt.domain import CandleSeries
from slt.domain.candle import DAY_MS, F64
from slt.model import checks_leaks
from slt.model.checks_leaks import (
    CONTROL_IC_FLOOR,
    DEFAULT_SIGMA,
    IC_ALARM,
    RANDOM_WALK_T0,
    calibrated_sigma,
    control_bound,
    control_walk_forward,
    ic_alarm_check,
    label_end_ms,
    lookahead_check,
    overlap_check,
    permutation_check,
    random_walk_check,
    random_walk_series,
    truncation_points,
)
from slt.model.checks_report import CheckResult, CheckSettings
from slt.model.config import ModelConfig, XgbParams
from slt.model.dataset import Dataset, build_dataset
from slt.model.features import FeatureSpec, default_feature_spec
from slt.model.labels import LabelParams
from slt.model.pipeline import TrainingOutcome, train_on_series
from slt.model.registry import ModelRecord, ModelStatus
from slt.model.walkforward import purged_train_mask, walk_forward

from .child_jobs import STANDIN_NAMES, peeking_features, standin_features
from .conftest import MINUTE, random_walk

H = 15
LABELS = LabelParams.from_config(RiskConfig(), FeeConfig(), H)
CONFIG = ModelConfig(
    horizon_bars=H,
    walk_forward_folds=2,
    walk_forward_test_fraction=0.4,
    xgb=XgbParams(num_boost_round=40, early_stopping_rounds=10, nthread=1),
)
SMALL = CheckSettings(
    random_walk_symbols=2,
    random_walk_bars=3000,
    control_max_rounds=40,
    lookahead_points=20,
    lookahead_series=2,
    lookahead_max_bars=1500,
)
STANDIN = FeatureSpec(STANDIN_NAMES, 0, "standin-" + "0" * 56, standin_features)
PEEKING = FeatureSpec(STANDIN_NAMES, 0, "peeking-" + "0" * 56, peeking_features)


def record(**overrides: Any) -> ModelRecord:
    """A plausible record of a model trained on 1m bars with H = 15; fields overridable."""
    base: dict[str, Any] = {
        "model_id": "m-test",
        "created_ms": 0,
        "status": ModelStatus.CANDIDATE,
        "parent_id": None,
        "schema_version": 0,
        "schema_hash": STANDIN.schema_hash,
        "feature_names": (*STANDIN.names, "direction"),
        "interval": "1m",
        "symbols": ("S0USDT",),
        "train_first_ms": RANDOM_WALK_T0,
        "train_last_ms": RANDOM_WALK_T0 + DAY_MS,
        "data_fingerprint": "f" * 64,
        "label_horizon": H,
        "label_params": LABELS.to_dict(),
        "xgb_params": {},
        "metrics": {},
    }
    base.update(overrides)
    return ModelRecord(**base)


def with_oos(oos: dict[str, Any] | None, **more: Any) -> ModelRecord:
    wf = None if oos is None else {"oos": oos, "folds": []}
    return record(metrics={"walk_forward": wf, **more})


# Lookahead ------------------------------------------------------------------------------------


def next_close(series: CandleSeries) -> F64:
    """Column 0 is close[t + 1] (a peek), column 1 the causal close[t]."""
    out = np.full((len(series), 2), np.nan)
    out[:-1, 0] = series.close[1:]
    out[:, 1] = series.close
    return out


def whole_series_zscore(series: CandleSeries) -> F64:
    """A normalisation over the whole series: every row reads the last candle too."""
    c = series.close
    out: F64 = ((c - c.mean()) / (c.std() + 1e-12)).reshape(-1, 1)
    return out


def test_truncation_points_are_spread_and_include_both_ends() -> None:
    assert truncation_points(0, 20) == []
    assert truncation_points(5, 20) == [0, 1, 2, 3, 4]
    assert truncation_points(101, 5) == [0, 25, 50, 75, 100]


@settings(deadline=None)
@given(st.integers(1, 50_000), st.integers(2, 60))
def test_truncation_points_properties(n: int, points: int) -> None:
    got = truncation_points(n, points)
    assert got == sorted(set(got)) and got[0] == 0 and got[-1] == n - 1
    assert len(got) == min(points, n)  # evenly spread integer points never collide
    assert got == truncation_points(n, points)


def test_lookahead_passes_on_the_real_feature_schema(sample: dict[str, CandleSeries]) -> None:
    spec = default_feature_spec()
    series = [sample["BTCUSDT"].slice(0, 3000), sample["DOGEUSDT"].slice(0, 3000)]
    r = lookahead_check(series, spec, SMALL)
    assert (r.name, r.passed, r.severity, r.value) == ("lookahead", True, "fail", 0.0)
    assert "40 truncation points" in r.detail  # 20 points × 2 series, as configured


def test_lookahead_passes_on_the_causal_stand_in(sample: dict[str, CandleSeries]) -> None:
    r = lookahead_check([sample["LTCUSDT"]], STANDIN, SMALL)
    assert r.passed and r.value == 0.0


def test_lookahead_fails_on_a_feature_reading_the_next_close(
    sample: dict[str, CandleSeries],
) -> None:
    spec = FeatureSpec(("next_close", "close"), 0, "peek-" + "0" * 59, next_close)
    r = lookahead_check([sample["BTCUSDT"]], spec, SMALL)
    assert not r.passed and r.blocking
    # Every truncation point but the last row (where the peek has nothing to read) differs,
    # and only in the peeking column.
    assert r.value == 19.0
    assert "next_close of BTCUSDT at row 0" in r.detail
    assert " close of" not in r.detail


def test_lookahead_fails_on_a_whole_series_normalisation(
    sample: dict[str, CandleSeries],
) -> None:
    spec = FeatureSpec(("zscore",), 0, "z-" + "0" * 62, whole_series_zscore)
    r = lookahead_check([sample["ADAUSDT"]], spec, SMALL)
    assert not r.passed and r.severity == "fail" and r.value is not None and r.value >= 18


def test_lookahead_fails_on_the_stand_in_leak(sample: dict[str, CandleSeries]) -> None:
    r = lookahead_check([sample["DOGEUSDT"]], PEEKING, SMALL)
    assert not r.passed and "f11 of DOGEUSDT" in r.detail


def peeks_on_ltc(series: CandleSeries) -> F64:
    """Causal on every symbol but LTCUSDT, where column 0 is the next close."""
    out = next_close(series)
    if series.symbol != "LTCUSDT":
        out[:, 0] = out[:, 1]
    return out


def test_lookahead_tests_the_first_configured_series_on_their_last_bars(
    sample: dict[str, CandleSeries],
) -> None:
    btc, ltc = sample["BTCUSDT"], sample["LTCUSDT"]
    spec = FeatureSpec(("maybe_next", "close"), 0, "ltc-" + "0" * 60, peeks_on_ltc)
    assert lookahead_check([btc], spec, SMALL).passed
    assert not lookahead_check([ltc], spec, SMALL).passed
    # Only the first `lookahead_series` series are tested.
    assert lookahead_check([btc, ltc], spec, replace(SMALL, lookahead_series=1)).passed
    r = lookahead_check([btc, ltc], spec, replace(SMALL, lookahead_series=2))
    assert not r.passed and r.value == 19.0 and "maybe_next of LTCUSDT" in r.detail
    # Cut to fewer bars than points: every row is a point, and the rows are the last ones.
    short = lookahead_check([ltc], spec, replace(SMALL, lookahead_max_bars=10))
    assert short.value == 9.0 and "at 10 truncation points" in short.detail
    assert f"(open {int(ltc.open_time[-10])})" in short.detail  # row 0 is the 10th-last bar


def test_lookahead_without_candles_is_information() -> None:
    empty = random_walk("E", 0, 1)
    r = lookahead_check([empty], STANDIN, SMALL)
    assert (r.passed, r.severity) == (True, "info")
    assert lookahead_check([], STANDIN, SMALL).severity == "info"


# The controls ---------------------------------------------------------------------------------


def test_control_bound_is_four_standard_errors_with_a_floor() -> None:
    assert control_bound(0.05) == pytest.approx(0.2)
    assert control_bound(0.001) == CONTROL_IC_FLOOR
    assert control_bound(CONTROL_IC_FLOOR / 4) == pytest.approx(CONTROL_IC_FLOOR)


def test_random_walk_series_is_seeded_and_candle_like() -> None:
    walk = random_walk_series(3, 500, sigma=2e-3, seed=7)
    assert [s.symbol for s in walk] == ["RW0USDT", "RW1USDT", "RW2USDT"]
    assert walk[0].open_time[0] == RANDOM_WALK_T0
    assert np.all(np.diff(walk[0].open_time) == MINUTE)
    for s in walk:
        assert s.open[0] == 100.0 and np.array_equal(s.open[1:], s.close[:-1])
        assert np.all(s.high >= np.maximum(s.open, s.close))
        assert np.all(s.low <= np.minimum(s.open, s.close))
        assert np.all(s.volume > 0)
        r = np.diff(np.log(s.close))
        assert 1.5e-3 < r.std() < 2.5e-3
    again = random_walk_series(3, 500, sigma=2e-3, seed=7)
    assert all(np.array_equal(a.close, b.close) for a, b in zip(walk, again, strict=True))
    other = random_walk_series(3, 500, sigma=2e-3, seed=8)
    assert not np.array_equal(walk[0].close, other[0].close)
    assert random_walk_series(1, 10, sigma=1e-3, seed=1, interval="5m")[0].interval_ms == 300_000


def test_calibrated_sigma_measures_the_per_bar_volatility() -> None:
    walks = random_walk_series(3, 5000, sigma=5e-4, seed=3)
    assert calibrated_sigma(walks) == pytest.approx(5e-4, rel=0.05)
    assert calibrated_sigma([]) == DEFAULT_SIGMA
    assert calibrated_sigma([walks[0].slice(0, 100)]) == DEFAULT_SIGMA  # too short to measure
    flat = replace(walks[0], close=np.full(5000, 100.0))
    assert calibrated_sigma([flat]) == 1e-4  # clamped from below
    wild = random_walk_series(1, 5000, sigma=0.05, seed=3)
    assert calibrated_sigma(wild) == 1e-2  # clamped from above


def test_random_walk_control_passes_for_a_causal_pipeline() -> None:
    r = random_walk_check(STANDIN, LABELS, CONFIG, SMALL)
    assert (r.name, r.passed, r.severity) == ("random_walk", True, "fail")
    assert r.value is not None and r.threshold is not None
    assert abs(r.value) <= r.threshold
    # The bound is max(4 SE, 0.03) with SE = 1/√n_eff, n_eff = half the OOS uniqueness weight.
    walk = random_walk_series(2, 3000, sigma=DEFAULT_SIGMA, seed=SMALL.seed)
    ds = build_dataset(walk, STANDIN, LABELS)
    ic, rows, _ = control_walk_forward(ds, CONFIG, H, SMALL)
    n_eff = float(ds.weight[rows].sum()) / 2.0
    assert r.value == ic
    assert r.threshold == pytest.approx(max(4 / math.sqrt(n_eff), 0.03))
    assert f"n_eff {n_eff:.0f}" in r.detail
    assert random_walk_check(STANDIN, LABELS, CONFIG, SMALL) == r  # seeded: reproducible


def test_random_walk_control_fails_for_a_feature_that_sees_ahead() -> None:
    r = random_walk_check(PEEKING, LABELS, CONFIG, SMALL)
    assert not r.passed and r.blocking
    assert r.value is not None and r.threshold is not None
    assert r.value > r.threshold and r.value > 0.3
    assert "finds signal where there is none" in r.detail


def test_a_control_without_out_of_sample_rows_warns() -> None:
    tiny = replace(SMALL, random_walk_bars=200)
    r = random_walk_check(STANDIN, LABELS, CONFIG, tiny)
    assert (r.passed, r.severity, r.value) == (False, "warn", None)
    assert "no out-of-sample IC" in r.detail


@pytest.fixture(scope="module")
def walk_ds() -> Dataset:
    series = [random_walk(f"S{i}USDT", 3000, 10 + i) for i in range(2)]
    return build_dataset(series, STANDIN, LABELS)


def test_permutation_control_passes_for_a_causal_pipeline(walk_ds: Dataset) -> None:
    r = permutation_check(walk_ds, CONFIG, H, SMALL)
    assert (r.name, r.passed, r.severity) == ("label_permutation", True, "fail")
    assert r.value is not None and r.threshold is not None and abs(r.value) <= r.threshold
    # Shuffled labels are exchangeable: SE = 1/√(rows − 1) over the predicted rows.
    rng = np.random.default_rng(SMALL.seed)
    shuffled = replace(walk_ds, y=walk_ds.y[rng.permutation(len(walk_ds))])
    _, rows, _ = control_walk_forward(shuffled, CONFIG, H, SMALL)
    assert r.threshold == pytest.approx(max(4 / math.sqrt(rows.size - 1), 0.03))
    assert f"on {rows.size} rows" in r.detail
    assert permutation_check(walk_ds, CONFIG, H, SMALL) == r


def label_as_feature(ds: Dataset) -> Dataset:
    x = ds.x.copy()
    x[:, 0] = ds.y
    return replace(ds, x=x)


def test_a_label_copied_into_the_features_is_not_the_permutation_controls_to_catch(
    walk_ds: Dataset,
) -> None:
    """A global shuffle cuts every link between features and labels (module doc), so a feature
    equal to the unshuffled label predicts nothing about the shuffled one: the control passes.
    The same leak is caught where it shows: the walk-forward IC (the IC alarm)."""
    leaky = label_as_feature(walk_ds)
    assert permutation_check(leaky, CONFIG, H, SMALL).passed
    ic, _, _ = control_walk_forward(leaky, CONFIG, H, SMALL)
    assert ic > 0.9
    alarm = ic_alarm_check(with_oos({"ic": ic, "rows": 1, "days": 1}))
    assert alarm.blocking


def test_permutation_control_fails_when_the_pipeline_reads_the_label(
    walk_ds: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the permutation detects: a pipeline that finds the label it is scored on, whatever
    the labels are — here a walk-forward that feeds the target into an input column."""

    def leaking_walk_forward(ds: Dataset, *args: Any, **kwargs: Any) -> Any:
        return walk_forward(label_as_feature(ds), *args, **kwargs)

    monkeypatch.setattr(checks_leaks, "walk_forward", leaking_walk_forward)
    r = permutation_check(walk_ds, CONFIG, H, SMALL)
    assert not r.passed and r.blocking
    assert r.value is not None and r.value > 0.9
    assert "finds signal where there is none" in r.detail


# IC alarm -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ic", "passed", "severity", "threshold"),
    [
        (0.0, True, "fail", IC_ALARM),
        (0.05, True, "fail", IC_ALARM),
        (0.1, True, "fail", IC_ALARM),  # the rule is IC ≤ 0.1
        (-0.1, True, "fail", IC_ALARM),
        (0.1001, False, "fail", IC_ALARM),
        (0.6, False, "fail", IC_ALARM),
        (-0.1001, False, "warn", -IC_ALARM),
        (-0.5, False, "warn", -IC_ALARM),
    ],
)
def test_ic_alarm(ic: float, passed: bool, severity: str, threshold: float) -> None:
    r = ic_alarm_check(with_oos({"ic": ic, "rows": 5000, "days": 3}))
    assert (r.name, r.passed, r.severity, r.value, r.threshold) == (
        "ic_alarm",
        passed,
        severity,
        ic,
        threshold,
    )
    assert "5000 rows, 3 days" in r.detail


@pytest.mark.parametrize(
    "metrics",
    [
        {},
        {"walk_forward": None},  # walk_forward_folds = 0
        {"walk_forward": {"folds": []}},
        {"walk_forward": {"oos": None}},
        {"walk_forward": {"oos": {"ic": None, "rows": 0}}},  # NaN IC stored as null
    ],
)
def test_ic_alarm_warns_when_no_ic_was_recorded(metrics: dict[str, Any]) -> None:
    r = ic_alarm_check(record(metrics=metrics))
    assert (r.passed, r.severity, r.value, r.blocking) == (False, "warn", None, False)


def test_ic_alarm_reports_the_chance_level_of_the_test_share() -> None:
    rec = with_oos(
        {"ic": 0.02, "rows": 900, "days": 4, "ic_long": 0.01, "ic_short": None},
        dataset={"effective_trades": 800.0},
    )
    r = ic_alarm_check(rec, test_fraction=0.4)
    # 1 SE = 1/√(trades × test share / 2) = 1/√160
    assert "chance level ±0.079 (1 SE)" in r.detail
    assert "ic_long +0.010" in r.detail and "ic_short" not in r.detail
    assert "chance level" not in ic_alarm_check(rec).detail


def test_ic_alarm_reads_what_the_pipeline_records() -> None:
    rec = trained_record(PEEKING)
    oos = rec.metrics["walk_forward"]["oos"]
    r = ic_alarm_check(rec, CONFIG.walk_forward_test_fraction)
    assert r.value == oos["ic"] and oos["ic"] > IC_ALARM and r.blocking


# Train / test separation ----------------------------------------------------------------------


def train_walk(spec: FeatureSpec) -> tuple[list[CandleSeries], TrainingOutcome]:
    series = [random_walk(f"S{i}USDT", 3000, 20 + i) for i in range(2)]
    return series, train_on_series(series, spec, LABELS, CONFIG)


def as_record(outcome: TrainingOutcome, spec: FeatureSpec) -> ModelRecord:
    return record(
        schema_hash=spec.schema_hash,
        symbols=outcome.symbols,
        train_first_ms=outcome.first_ms,
        train_last_ms=outcome.last_ms,
        data_fingerprint=outcome.fingerprint,
        metrics=outcome.metrics,
    )


_TRAINED: dict[str, tuple[list[CandleSeries], ModelRecord]] = {}


def trained(spec: FeatureSpec) -> tuple[list[CandleSeries], ModelRecord]:
    """Candles and the record of a model trained on them (cached per spec: training is
    deterministic, so the cache changes nothing but the time)."""
    if spec.schema_hash not in _TRAINED:
        series, outcome = train_walk(spec)
        _TRAINED[spec.schema_hash] = (series, as_record(outcome, spec))
    return _TRAINED[spec.schema_hash]


def trained_record(spec: FeatureSpec) -> ModelRecord:
    return trained(spec)[1]


def training_rows(spec: FeatureSpec = STANDIN) -> Dataset:
    series, _ = trained(spec)
    return build_dataset(series, spec, LABELS)


def folds_of(rec: ModelRecord) -> list[dict[str, Any]]:
    folds: list[dict[str, Any]] = rec.metrics["walk_forward"]["folds"]
    return [dict(f) for f in folds]


def with_folds(rec: ModelRecord, folds: list[dict[str, Any]]) -> ModelRecord:
    wf = {**rec.metrics["walk_forward"], "folds": folds}
    return replace(rec, metrics={**rec.metrics, "walk_forward": wf})


def check(rec: ModelRecord, *, test_start_ms: int | None = None, **kw: Any) -> CheckResult:
    return overlap_check(rec, LABELS, MINUTE, CONFIG, test_start_ms=test_start_ms, **kw)


def test_label_end_bounds_every_training_label() -> None:
    rec = trained_record(STANDIN)
    ds = training_rows()
    used_until = label_end_ms(rec, LABELS, MINUTE)
    # A label is decided at t's close, enters at t+1's open and exits H bars later at the
    # next open: it can read the candle H + 1 bars after its decision bar, and no later one.
    assert used_until == rec.train_last_ms + (H + 1) * MINUTE
    assert int(ds.label_end_ms.max()) <= used_until
    assert ds.last_ms == rec.train_last_ms


def test_a_proper_record_passes() -> None:
    rec = trained_record(STANDIN)
    assert len(folds_of(rec)) == 2
    used_until = label_end_ms(rec, LABELS, MINUTE)
    r = check(rec, test_start_ms=used_until + MINUTE, ds=training_rows())
    assert (r.name, r.passed, r.severity, r.value) == ("train_test_overlap", True, "fail", 0.0)
    assert "against the training rows" in r.detail
    no_ds = check(rec)
    assert no_ds.passed and "no test period given" in no_ds.detail
    assert "by their recorded ends" in no_ds.detail


def test_a_test_period_that_reads_training_candles_fails() -> None:
    rec = trained_record(STANDIN)
    used_until = label_end_ms(rec, LABELS, MINUTE)
    at = check(rec, test_start_ms=used_until)
    assert not at.passed and at.blocking and at.value == 1.0
    assert "overlaps the training data" in at.detail
    assert not check(rec, test_start_ms=rec.train_first_ms).passed
    assert not check(rec, test_start_ms=rec.train_last_ms + MINUTE).passed
    assert check(rec, test_start_ms=used_until + 1).passed


def test_a_fold_overlapping_the_previous_one_fails() -> None:
    rec = trained_record(STANDIN)
    folds = folds_of(rec)
    folds[1]["test_start_ms"] = folds[0]["test_end_ms"] - MINUTE
    r = check(with_folds(rec, folds))
    assert not r.passed and "fold 1" in r.detail and "out of order" in r.detail


@pytest.mark.parametrize("where", ["before the window", "after the window", "empty"])
def test_a_fold_outside_the_window_fails(where: str) -> None:
    rec = trained_record(STANDIN)
    folds = folds_of(rec)
    if where == "before the window":
        folds[0]["test_start_ms"] = rec.train_first_ms - MINUTE
    elif where == "after the window":
        folds[1]["test_end_ms"] = rec.train_last_ms + 2
    else:
        folds[1]["test_end_ms"] = folds[1]["test_start_ms"]
    r = check(with_folds(rec, folds))
    assert not r.passed and r.blocking and "outside the window" in r.detail


@pytest.mark.parametrize("key", ["train_label_end_ms", "train_end_ms"])
def test_a_fold_trained_on_labels_inside_the_embargo_fails(key: str) -> None:
    rec = trained_record(STANDIN)
    folds = folds_of(rec)
    embargo = H * MINUTE
    start = folds[1]["test_start_ms"]
    folds[1][key] = start - embargo
    assert check(with_folds(rec, folds)).passed  # labels ended exactly an embargo before
    folds[1][key] = start - embargo + 1
    r = check(with_folds(rec, folds))
    assert not r.passed and "fold 1 trained on labels ending" in r.detail
    # The embargo is the configured one when it is longer than the label horizon.
    folds[1][key] = start - embargo
    longer = CONFIG.model_copy(update={"embargo_bars": 2 * H})
    r = overlap_check(with_folds(rec, folds), LABELS, MINUTE, longer, test_start_ms=None)
    assert not r.passed and f"{2 * H * MINUTE} ms embargo" in r.detail


def test_an_unpurged_fold_fails_by_count_against_the_training_rows() -> None:
    """A walk-forward that trained each fold on every row decided before the test start
    (labels straddling the boundary included) records more rows than purging allows."""
    rec = trained_record(STANDIN)
    ds = training_rows()
    folds = folds_of(rec)
    embargo = H * MINUTE
    for fold in folds:
        eligible = int(purged_train_mask(ds, fold["test_start_ms"], embargo).sum())
        fold["train_rows"] = int((ds.time_ms < fold["test_start_ms"]).sum())
        assert fold["train_rows"] > eligible
    unpurged = with_folds(rec, folds)
    r = check(unpurged, ds=ds)
    assert not r.passed and r.value == 2.0
    assert "fold 0 trained on" in r.detail and "fold 1 trained on" in r.detail
    # At exactly the purged count it passes; on other data the count cannot be checked.
    for fold in folds:
        fold["train_rows"] = int(purged_train_mask(ds, fold["test_start_ms"], embargo).sum())
    assert check(with_folds(rec, folds), ds=ds).passed
    folds[1]["train_rows"] += 1
    one_more = check(with_folds(rec, folds), ds=ds)
    assert not one_more.passed and one_more.value == 1.0
    other = replace(ds, fingerprint="0" * 64)
    assert check(unpurged, ds=other).passed
    # A skipped fold trained nothing, whatever rows it counted.
    skipped = folds_of(unpurged)
    for fold in skipped:
        fold["skipped"] = "training window too small"
    assert check(with_folds(rec, skipped), ds=ds).passed


def test_every_problem_is_counted() -> None:
    rec = trained_record(STANDIN)
    folds = folds_of(rec)
    folds[0]["test_start_ms"] = rec.train_first_ms - 1
    folds[1]["train_label_end_ms"] = folds[1]["test_start_ms"]
    r = check(with_folds(rec, folds), test_start_ms=rec.train_last_ms)
    assert not r.passed and r.value == 3.0 and r.detail.count("; ") == 2
