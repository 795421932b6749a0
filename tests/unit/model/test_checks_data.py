"""The data and model checks: feature drift by PSI, label balance, feature importance."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from slt.config import FeeConfig, RiskConfig
from slt.domain import CandleSeries
from slt.domain.candle import DAY_MS, F64
from slt.model.checks_data import (
    MIN_DRIFT_ROWS,
    PSI_FLOOR,
    PSI_WARN,
    drift_checks,
    gain_shares,
    importance_check,
    label_balance_checks,
    psi,
    warm_start,
)
from slt.model.checks_report import CheckResult, CheckSettings
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams, forward_labels
from slt.model.registry import ModelRecord, ModelStatus
from slt.model.train import load_booster

from .conftest import MINUTE, T0, make_series, random_walk

H = 15
LABELS = LabelParams.from_config(RiskConfig(), FeeConfig(), H)
RECENT_1D = CheckSettings(recent_days=1.0)


def record(first_ms: int, last_ms: int, names: tuple[str, ...] = ("a",)) -> ModelRecord:
    return ModelRecord(
        model_id="m-test",
        created_ms=0,
        status=ModelStatus.CANDIDATE,
        parent_id=None,
        schema_version=0,
        schema_hash="0" * 64,
        feature_names=(*names, "direction"),
        interval="1m",
        symbols=("TESTUSDT",),
        train_first_ms=first_ms,
        train_last_ms=last_ms,
        data_fingerprint="0" * 64,
        label_horizon=H,
        label_params=LABELS.to_dict(),
        xgb_params={},
        metrics={},
    )


# PSI ------------------------------------------------------------------------------------------

values = hnp.arrays(
    np.float64,
    st.integers(1, 120),
    elements=st.integers(-1000, 1000).map(lambda i: i / 8) | st.just(math.nan),
)


@settings(deadline=None)
@given(values)
def test_psi_of_a_distribution_with_itself_is_zero(x: F64) -> None:
    assert psi(x, x) == 0.0
    assert psi(x, np.concatenate([x, x])) == pytest.approx(0.0, abs=1e-12)  # same shares


@settings(deadline=None)
@given(values, values)
def test_psi_is_non_negative_bounded_and_scale_free(e: F64, a: F64) -> None:
    value = psi(e, a)
    # Each term (a − e)·ln(a / e) is ≥ 0, and with shares floored at 1e-4 the sum of
    # |a − e| ≤ 2 bounds it by 2·ln(1e4), whichever way round it is taken.
    assert 0.0 <= value <= 2 * math.log(1 / PSI_FLOOR) + 1e-9
    assert 0.0 <= psi(a, e) <= 2 * math.log(1 / PSI_FLOOR) + 1e-9
    # Bins come from the deciles of `expected`: rescaling both (exactly, by 2) changes nothing.
    assert psi(2 * e, 2 * a) == value


def test_psi_of_an_empty_sample_is_nan() -> None:
    assert math.isnan(psi(np.zeros(0), np.ones(5)))
    assert math.isnan(psi(np.ones(5), np.zeros(0)))


def test_psi_reads_small_and_large_shifts_conventionally() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(0, 1, 20_000)
    assert psi(train, rng.normal(0, 1, 5_000)) < 0.02
    assert psi(train, rng.normal(0.05, 1, 5_000)) < 0.1  # stable
    assert psi(train, rng.normal(1.0, 1, 5_000)) > PSI_WARN  # significant
    assert psi(train, rng.normal(0, 2, 5_000)) > PSI_WARN  # the spread counts too
    assert psi(train, train + 100) > 5  # nothing left in common


def test_a_discrete_feature_is_compared_value_by_value() -> None:
    e = np.r_[np.zeros(500), np.ones(500)]
    a = np.r_[np.zeros(900), np.ones(100)]
    expected = 0.4 * math.log(0.9 / 0.5) + 0.4 * math.log(0.5 / 0.1)
    assert psi(e, a) == pytest.approx(expected, rel=1e-12)


def test_a_change_in_how_often_a_feature_is_missing_is_drift() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, 10_000)
    holes = x.copy()
    holes[::2] = np.nan
    # Half the values missing: the NaN bin goes from the floor to one half, and each of the
    # ten decile bins from a tenth to a twentieth.
    nan_bin = (0.5 - PSI_FLOOR) * math.log(0.5 / PSI_FLOOR)
    assert psi(x, holes) == pytest.approx(nan_bin + 10 * 0.05 * math.log(2), rel=1e-3)
    assert psi(x, holes) > PSI_WARN


# Drift ----------------------------------------------------------------------------------------


def spec_of(name: str, column: Callable[[CandleSeries], F64]) -> FeatureSpec:
    """A spec with a stable reference column `hour` (UTC hour of day) and `name`."""

    def compute(s: CandleSeries) -> F64:
        hour = ((s.open_time // 3_600_000) % 24).astype(np.float64)
        return np.column_stack([hour, column(s)])

    return FeatureSpec(("hour", name), 0, name.ljust(64, "0"), compute)


DAYS = 6
WINDOW_END = T0 + 4 * DAY_MS - MINUTE  # training window: the first four days


@pytest.fixture(scope="module")
def six_days() -> CandleSeries:
    return random_walk("TESTUSDT", DAYS * 1440, 5)


def drift(series: CandleSeries, spec: FeatureSpec) -> dict[str, CheckResult]:
    rec = record(T0, WINDOW_END, spec.names)
    return {r.name: r for r in drift_checks([series], spec, rec, RECENT_1D)}


def log_volume(s: CandleSeries) -> F64:
    return np.log1p(s.volume)


def test_stable_features_pass_the_drift_check(six_days: CandleSeries) -> None:
    got = drift(six_days, spec_of("log_volume", log_volume))
    assert set(got) == {"feature_drift[hour]", "feature_drift[log_volume]"}
    for r in got.values():
        assert (r.passed, r.severity, r.threshold) == (True, "warn", PSI_WARN)
        assert r.value is not None and r.value < 0.1
        assert "stable" in r.detail
        # "The last day" reaches back one day from the last open, both ends included.
        assert f"training window {4 * 1440} rows vs last 1 days 1441 rows" in r.detail


@pytest.mark.parametrize(
    ("louder", "passed", "reading"),
    [
        (1.3, True, "stable"),  # PSI ≈ 0.08
        (1.5, True, "moderate shift"),  # ≈ 0.17
        (2.0, False, "significant shift"),  # ≈ 0.48
        (30.0, False, "significant shift"),
    ],
)
def test_a_shifted_feature_warns_but_does_not_block(
    six_days: CandleSeries, louder: float, passed: bool, reading: str
) -> None:
    late = six_days.open_time >= T0 + 5 * DAY_MS
    volume = np.where(late, six_days.volume * louder, six_days.volume)
    got = drift(replace(six_days, volume=volume), spec_of("log_volume", log_volume))
    r = got["feature_drift[log_volume]"]
    assert (r.passed, r.severity, r.blocking) == (passed, "warn", False)
    assert r.value is not None and (r.value <= PSI_WARN) is passed
    assert r.threshold == PSI_WARN
    assert reading in r.detail
    assert got["feature_drift[hour]"].passed


def test_a_feature_lost_in_recent_days_is_broken(six_days: CandleSeries) -> None:
    def lost(s: CandleSeries) -> F64:
        return np.where(s.open_time < T0 + 5 * DAY_MS - 3_600_000, np.log1p(s.volume), np.nan)

    r = drift(six_days, spec_of("lost", lost))["feature_drift[lost]"]
    assert (r.passed, r.severity, r.blocking) == (False, "fail", True)
    assert "known in 100.0% → 0.0% of rows" in r.detail and "broken, not drifting" in r.detail


@pytest.mark.parametrize(("known_rows", "broken"), [(50, False), (58, True)])
def test_a_feature_known_in_under_one_percent_is_rare_not_broken(
    six_days: CandleSeries, known_rows: int, broken: bool
) -> None:
    """Known in `known_rows` of the 5760 training rows and never recently: broken only from
    1 % of the rows on (57.6 rows)."""

    def rare(s: CandleSeries) -> F64:
        out = np.full(len(s), np.nan)
        out[:known_rows] = 1.0
        return out

    r = drift(six_days, spec_of("rare", rare))["feature_drift[rare]"]
    assert (r.passed, r.severity) == ((False, "fail") if broken else (True, "warn"))
    assert f"known in {known_rows / 5760:.1%} → 0.0% of rows" in r.detail


def test_a_feature_missing_in_training_and_known_recently_is_broken(
    six_days: CandleSeries,
) -> None:
    def fixed_later(s: CandleSeries) -> F64:
        return np.where(s.open_time >= T0 + 5 * DAY_MS, np.log1p(s.volume), np.nan)

    got = drift(six_days, spec_of("fixed_later", fixed_later))
    assert "feature_drift[fixed_later]" in got, got
    r = got["feature_drift[fixed_later]"]
    assert (r.passed, r.severity) == (False, "fail")


def test_warm_start_is_the_first_row_where_every_known_feature_was_seen() -> None:
    m = np.full((10, 3), np.nan)
    m[2:, 0] = 1.0
    m[5, 1] = 1.0  # known once, at row 5
    assert warm_start(m) == 5  # column 2 is never known and is ignored
    assert warm_start(np.full((4, 2), np.nan)) == 4
    assert warm_start(np.ones((4, 2))) == 0


def test_drift_leaves_indicator_warm_up_out(six_days: CandleSeries) -> None:
    """A long warm-up of NaN at the start of the series is not a change in how often the
    feature is missing."""

    def slow(s: CandleSeries) -> F64:
        out = np.log1p(s.volume)
        out[:600] = np.nan
        return out

    r = drift(six_days, spec_of("slow", slow))["feature_drift[slow]"]
    assert r.passed and "known in 100.0% → 100.0%" in r.detail


def test_drift_is_not_measured_on_too_few_rows(six_days: CandleSeries) -> None:
    spec = spec_of("log_volume", log_volume)
    short = six_days.slice(0, MIN_DRIFT_ROWS - 1)
    got = drift_checks([short], spec, record(T0, WINDOW_END), RECENT_1D)
    assert len(got) == 1
    assert (got[0].name, got[0].passed, got[0].severity) == ("feature_drift", True, "info")
    assert "not measured" in got[0].detail
    none = drift_checks([six_days.slice(0, 0)], spec, record(T0, WINDOW_END), RECENT_1D)
    assert (none[0].severity, none[0].detail) == ("info", "no candles given")


# Label balance --------------------------------------------------------------------------------


def trend(n: int, step: float) -> CandleSeries:
    """A steady trend of `step` per bar with thin wicks."""
    close = 100.0 * (1.0 + step) ** np.arange(1, n + 1)
    opens = np.r_[100.0, close[:-1]]
    high = np.maximum(opens, close) * 1.0002
    low = np.minimum(opens, close) * 0.9998
    return make_series(np.column_stack([opens, high, low, close]).tolist())


def balance(series: CandleSeries, first: int, last: int) -> dict[str, CheckResult]:
    rec = record(int(series.open_time[first]), int(series.open_time[last]))
    return {r.name: r for r in label_balance_checks([series], LABELS, rec)}


def test_labels_of_a_random_walk_are_balanced() -> None:
    s = random_walk("TESTUSDT", 3000, 9)
    got = balance(s, 0, 2900)
    assert set(got) == {"label_balance[long]", "label_balance[short]"}
    lab = forward_labels(s, LABELS)
    for side, y in (("long", lab.long[:2901]), ("short", lab.short[:2901])):
        r = got[f"label_balance[{side}]"]
        assert (r.passed, r.severity, r.threshold) == (True, "warn", 0.05)
        assert r.value is not None and 0.05 <= r.value <= 0.95
        assert r.value == pytest.approx(float((y[np.isfinite(y)] > 0).mean()))
        assert "(training window)" in r.detail


def test_a_one_way_market_warns_on_both_sides() -> None:
    got = balance(trend(1500, 0.001), 0, 1400)
    long, short = got["label_balance[long]"], got["label_balance[short]"]
    assert (long.passed, long.severity, long.threshold) == (False, "warn", 0.95)
    assert long.value is not None and long.value > 0.95
    assert (short.passed, short.severity, short.threshold) == (False, "warn", 0.05)
    assert short.value is not None and short.value < 0.05
    assert "outside [5%, 95%]" in short.detail


def test_costs_larger_than_every_move_warn() -> None:
    """A flat market: every trade loses its fees, no label is positive."""
    got = balance(make_series([(100.0, 100.0, 100.0, 100.0)] * 500), 0, 400)
    for r in got.values():
        assert (r.passed, r.severity, r.value) == (False, "warn", 0.0)


def test_a_window_with_many_unlabelled_bars_warns() -> None:
    s = random_walk("TESTUSDT", 3000, 9)
    # The last H + 1 bars cannot be labelled; in a 120-bar window that is 13 %.
    got = balance(s, 2880, 2999)
    for side in ("long", "short"):
        r = got[f"label_balance[{side}]"]
        assert (r.passed, r.severity) == (False, "warn")
        assert f"{(H + 1) / 120:.1%} of bars unlabelled" in r.detail
        assert "more than 10% unlabelled" in r.detail
    # Without the unlabelled tail it passes.
    assert all(r.passed for r in balance(s, 2000, 2983).values())


def test_a_side_without_a_realised_label_fails() -> None:
    s = random_walk("TESTUSDT", 3000, 9)
    got = balance(s, 2990, 2999)
    for r in got.values():
        assert (r.passed, r.severity, r.value, r.blocking) == (False, "fail", None, True)
        assert "nothing to learn" in r.detail and "(10 bars)" in r.detail


def test_without_the_training_window_every_bar_counts() -> None:
    s = random_walk("TESTUSDT", 3000, 9)
    rec = record(T0 + 10 * DAY_MS, T0 + 11 * DAY_MS)
    got = label_balance_checks([s], LABELS, rec)
    assert all("whole series (training window not in the data)" in r.detail for r in got)
    assert all(f"of {3000 - H - 1} " in r.detail for r in got)


def test_a_series_outside_the_training_window_is_not_counted() -> None:
    trained_on = random_walk("AUSDT", 3000, 9)
    later = trend(1500, 0.001)
    later = replace(later, symbol="BUSDT", open_time=later.open_time + 3000 * MINUTE)
    rec = record(T0, T0 + 2900 * MINUTE)
    alone = label_balance_checks([trained_on], LABELS, rec)
    both = label_balance_checks([trained_on, later], LABELS, rec)
    assert [r.value for r in both] == [r.value for r in alone]


# Feature importance ---------------------------------------------------------------------------

NAMES = ("a", "b", "c", "d", "direction")


def booster_bytes(y_of: Callable[[F64], F64], names: tuple[str, ...] | None = NAMES) -> bytes:
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (3000, 5))
    kwargs: dict[str, Any] = {} if names is None else {"feature_names": list(names)}
    data = xgb.DMatrix(x, label=y_of(x), **kwargs)
    params = {"max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 1, "verbosity": 0}
    return bytes(xgb.train(params, data, num_boost_round=30).save_raw("ubj"))


def noise(x: F64) -> F64:
    out: F64 = np.random.default_rng(5).normal(0, 0.1, size=(x.shape[0],))
    return out


def test_a_model_spread_over_its_inputs_passes() -> None:
    model = booster_bytes(lambda x: x[:, 0] + x[:, 1] + x[:, 2] + x[:, 3] + noise(x))
    r = importance_check(model, NAMES)
    assert (r.name, r.passed, r.severity, r.threshold) == ("feature_importance", True, "warn", 0.6)
    assert r.value is not None and 0.2 < r.value < 0.6
    for name in NAMES:
        assert f"{name} " in r.detail


def test_a_model_dominated_by_one_input_warns() -> None:
    model = booster_bytes(lambda x: 3 * x[:, 2] + 0.2 * x[:, 0] + noise(x))
    shares = gain_shares(model, NAMES)
    r = importance_check(model, NAMES)
    assert (r.passed, r.severity, r.blocking) == (False, "warn", False)
    assert r.value == shares["c"] and r.value > 0.9
    assert r.detail.startswith("c holds ")


def test_gain_shares_are_in_input_order_and_sum_to_one() -> None:
    model = booster_bytes(lambda x: x[:, 0] + 0.5 * x[:, 3] + noise(x))
    shares = gain_shares(model, NAMES)
    assert list(shares) == list(NAMES)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["a"] > shares["d"] > 0
    # Inputs a booster never split on are listed with 0; unnamed f0, f1, … map by position.
    unnamed = booster_bytes(lambda x: x[:, 0] + 0.5 * x[:, 3] + noise(x), names=None)
    assert gain_shares(unnamed, NAMES) == pytest.approx(shares)


def test_gain_shares_are_of_total_gain_not_of_gain_per_split() -> None:
    model = booster_bytes(lambda x: x[:, 0] + 0.5 * x[:, 3] + (x[:, 1] > 2.5) + noise(x))
    booster = load_booster(model)

    def normalised(kind: str) -> dict[str, float]:
        raw = {k: float(np.sum(v)) for k, v in booster.get_score(importance_type=kind).items()}
        return {n: raw.get(n, 0.0) / sum(raw.values()) for n in NAMES}

    total, per_split = normalised("total_gain"), normalised("gain")
    assert per_split != pytest.approx(total, abs=0.01)  # the two readings differ here
    assert gain_shares(model, NAMES) == pytest.approx(total)


def test_a_model_without_a_split_warns() -> None:
    model = booster_bytes(lambda x: np.ones(x.shape[0]))
    assert set(gain_shares(model, NAMES).values()) == {0.0}
    r = importance_check(model, NAMES)
    assert (r.passed, r.severity, r.value) == (False, "warn", None)
    assert "predicts a constant" in r.detail
