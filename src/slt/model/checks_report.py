"""The outcome of the bias and health checks, as plain values that survive a JSON round trip.

A `CheckResult` is one measurement with the rule it was held to; a `CheckReport` collects them
for one model. A report passes when no result of severity "fail" failed: warnings are shown but
never block a promotion, and "info" results are measurements without a rule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

Severity = Literal["fail", "warn", "info"]
"""What a result that did not pass means: "fail" blocks promotion, "warn" is shown only,
"info" reports a measurement (an info result always passes)."""

SEVERITIES: tuple[Severity, ...] = ("fail", "warn", "info")


def _json_float(value: float | None) -> float | None:
    """JSON has no NaN or infinity: those become None."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: its name, whether it passed, how serious a failure is, the measured value
    and the threshold it was compared with (units in `detail`), and a sentence saying why.

    A check with two levels (a warning level and a failing level) reports the level that was
    crossed, or its lower level when none was.
    """

    name: str
    passed: bool
    severity: Severity
    value: float | None
    threshold: float | None
    detail: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    @property
    def blocking(self) -> bool:
        """True when this result stops a promotion."""
        return self.severity == "fail" and not self.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "severity": self.severity,
            "value": _json_float(self.value),
            "threshold": _json_float(self.threshold),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        value, threshold = d.get("value"), d.get("threshold")
        return cls(
            name=str(d["name"]),
            passed=bool(d["passed"]),
            severity=cast(Severity, str(d["severity"])),
            value=None if value is None else float(value),
            threshold=None if threshold is None else float(threshold),
            detail=str(d.get("detail", "")),
        )


@dataclass(frozen=True, slots=True)
class CheckReport:
    """All check results for one model; `passed` is False as soon as a "fail" result failed."""

    model_id: str
    results: tuple[CheckResult, ...]

    @classmethod
    def of(cls, model_id: str, results: Sequence[CheckResult]) -> CheckReport:
        return cls(model_id, tuple(results))

    @property
    def passed(self) -> bool:
        return not any(r.blocking for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The results that block promotion."""
        return tuple(r for r in self.results if r.blocking)

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.severity == "warn" and not r.passed)

    def get(self, name: str) -> CheckResult:
        """The result called `name` (KeyError when there is none)."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "passed": self.passed,
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckReport:
        return cls(str(d["model_id"]), tuple(CheckResult.from_dict(r) for r in d["results"]))

    def lines(self) -> list[str]:
        """One human-readable line per result, failures first."""
        order = {"fail": 0, "warn": 1, "info": 2}
        ranked = sorted(self.results, key=lambda r: (r.passed, order[r.severity]))
        out = []
        for r in ranked:
            mark = "PASS" if r.passed else ("FAIL" if r.severity == "fail" else r.severity.upper())
            out.append(f"{mark:4} {r.name}: {r.detail}")
        return out


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """Sizes of the checks. The defaults keep the whole run within seconds on two cores for
    a few symbols × 20k 1m bars; tests shrink them.

    The two controls (random walk, label permutation) train with at most `control_folds`
    walk-forward folds and `control_max_rounds` boosting rounds instead of the configured
    ones: on data without signal early stopping ends far sooner anyway, so the cap only
    bounds the time, and two folds already give every row of the test share one prediction.
    """

    random_walk_symbols: int = 8
    random_walk_bars: int = 30_000
    """Bars of 1m per random-walk symbol (30k ≈ 21 days)."""
    control_folds: int = 2
    control_max_rounds: int = 200
    seed: int = 20_240_101
    """Seed of the random walk and of the label permutation: a check is reproducible."""
    lookahead_points: int = 24
    """Truncation points per series in the lookahead test (at least 20)."""
    lookahead_series: int = 4
    """Series tested for lookahead (the first ones given); causality is a property of the
    code, and four symbols of different price scales exercise it enough."""
    lookahead_max_bars: int = 30_000
    """The lookahead test runs on the last this-many bars of each series."""
    recent_days: float = 3.0
    """Length of the recent window compared with the training window for drift, in days."""

    def __post_init__(self) -> None:
        if self.lookahead_points < 20:
            raise ValueError(f"lookahead_points must be ≥ 20, got {self.lookahead_points}")
        if min(self.random_walk_symbols, self.random_walk_bars, self.control_folds) < 1:
            raise ValueError("random-walk size and control folds must be ≥ 1")
        if self.control_max_rounds < 1 or self.recent_days <= 0:
            raise ValueError("control_max_rounds must be ≥ 1 and recent_days > 0")
