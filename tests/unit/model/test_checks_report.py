"""Check results and reports: what blocks a promotion, and the JSON round trip they are
stored through (`ModelRecord.checks`)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.model.checks_report import SEVERITIES, CheckReport, CheckResult, CheckSettings, Severity


def result(name: str, passed: bool, severity: Severity = "fail") -> CheckResult:
    return CheckResult(name, passed, severity, 0.5, 1.0, f"{name} detail")


finite = st.floats(allow_nan=False, allow_infinity=False)
results = st.builds(
    CheckResult,
    name=st.text(min_size=1, max_size=30),
    passed=st.booleans(),
    severity=st.sampled_from(SEVERITIES),
    value=st.none() | finite,
    threshold=st.none() | finite,
    detail=st.text(max_size=80),
)


@settings(deadline=None)
@given(results)
def test_a_result_survives_json_exactly(r: CheckResult) -> None:
    text = json.dumps(r.to_dict(), allow_nan=False)
    assert CheckResult.from_dict(json.loads(text)) == r


@settings(deadline=None)
@given(
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
def test_non_finite_numbers_are_stored_as_null(value: float, threshold: float) -> None:
    r = CheckResult("x", True, "info", value, threshold, "")
    d = r.to_dict()
    assert d["value"] is None and d["threshold"] is None
    json.dumps(d, allow_nan=False)  # strict JSON: no NaN / Infinity tokens
    back = CheckResult.from_dict(d)
    assert back.value is None and back.threshold is None


@settings(deadline=None)
@given(st.text(min_size=1, max_size=20), st.lists(results, max_size=8))
def test_a_report_survives_json_and_recomputes_passed(
    model_id: str, items: list[CheckResult]
) -> None:
    report = CheckReport.of(model_id, items)
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert d["passed"] is report.passed
    back = CheckReport.from_dict(d)
    assert back == report
    # `passed` is derived from the results, never trusted from the stored dict.
    d["passed"] = not report.passed
    assert CheckReport.from_dict(d).passed is report.passed


@settings(deadline=None)
@given(st.lists(results, max_size=10))
def test_passed_failures_and_warnings_follow_severity(items: list[CheckResult]) -> None:
    report = CheckReport.of("m", items)
    blocking = [r for r in items if r.severity == "fail" and not r.passed]
    assert report.failures == tuple(blocking)
    assert report.passed is (not blocking)
    assert report.warnings == tuple(r for r in items if r.severity == "warn" and not r.passed)
    assert all(r.blocking for r in report.failures)


def test_only_a_failed_fail_blocks() -> None:
    ok_fail, bad_fail = result("a", True, "fail"), result("b", False, "fail")
    bad_warn, bad_info = result("c", False, "warn"), result("d", False, "info")
    assert not ok_fail.blocking and bad_fail.blocking
    assert not bad_warn.blocking and not bad_info.blocking

    warned = CheckReport.of("m", [ok_fail, bad_warn, bad_info])
    assert warned.passed and warned.failures == ()
    assert warned.warnings == (bad_warn,)  # an info result is never a warning

    failed = CheckReport.of("m", [ok_fail, bad_warn, bad_fail])
    assert not failed.passed
    assert failed.failures == (bad_fail,)
    assert failed.to_dict()["passed"] is False

    assert CheckReport.of("m", []).passed


def test_get_finds_a_result_by_name() -> None:
    a, b = result("a", True), result("b", False)
    report = CheckReport.of("m", [a, b])
    assert report.get("b") is b
    with pytest.raises(KeyError):
        report.get("nope")


def test_lines_put_failures_first_with_their_mark() -> None:
    report = CheckReport.of(
        "m",
        [
            result("p_info", True, "info"),
            result("w", False, "warn"),
            result("p_fail", True, "fail"),
            result("f", False, "fail"),
            result("i", False, "info"),
        ],
    )
    assert report.lines() == [
        "FAIL f: f detail",
        "WARN w: w detail",
        "INFO i: i detail",
        "PASS p_fail: p_fail detail",
        "PASS p_info: p_info detail",
    ]


def test_an_unknown_severity_is_refused() -> None:
    with pytest.raises(ValueError, match="severity"):
        CheckResult("x", True, "error", None, None, "")  # type: ignore[arg-type]
    stored: dict[str, Any] = result("x", True).to_dict() | {"severity": "fatal"}
    with pytest.raises(ValueError, match="severity"):
        CheckResult.from_dict(stored)


def test_a_missing_detail_loads_as_empty() -> None:
    d = result("x", True).to_dict()
    del d["detail"]
    assert CheckResult.from_dict(d).detail == ""


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lookahead_points": 19},
        {"random_walk_symbols": 0},
        {"random_walk_bars": 0},
        {"control_folds": 0},
        {"control_max_rounds": 0},
        {"recent_days": 0.0},
    ],
)
def test_check_settings_refuse_sizes_that_measure_nothing(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        CheckSettings(**kwargs)


def test_check_settings_defaults_are_valid_and_the_minimum_is_accepted() -> None:
    CheckSettings()
    small = CheckSettings(
        lookahead_points=20, random_walk_symbols=1, random_walk_bars=1, control_max_rounds=1
    )
    assert small.lookahead_points == 20
