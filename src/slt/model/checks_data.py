"""Checks of the data and of the fitted model: feature drift, label balance, feature importance.

* Drift: a model only knows the feature distribution of its training window. The population
  stability index (PSI) per feature compares that window with the most recent days. The
  conventional reading is < 0.1 stable, 0.1–0.25 a moderate shift, > 0.25 a significant one;
  above 0.25 this check warns. It does not fail on size alone: crypto volatility regimes
  move `atr_pct` by more than that within two weeks (PSI 0.3–0.6 between the first eleven and
  last three days of the bundled sample), and a model trained in one regime is worth trading
  in the next. It fails when a feature is broken rather than shifted: known (finite) in at
  least 1 % of one window's rows and in none of the other's.
* Label balance: the trade labels are net of costs, so fewer than half are positive; but if
  under 5 % (or over 95 %) of one side's labels are positive, the exits or the costs are
  misconfigured, or the window is one long trend, and the model learns a constant. A side
  without a single realised label fails: the model could not have learnt it.
* Importance: a leak usually shows as one input carrying most of the model's gain, because it
  explains the label better than everything else together. The share of total gain per input
  is reported, with a warning above 60 % for one input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from slt.domain import CandleSeries
from slt.domain.candle import DAY_MS, F64
from slt.model.checks_report import CheckResult, CheckSettings
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams, forward_labels
from slt.model.registry import ModelRecord
from slt.model.train import load_booster

PSI_BINS = 10
"""Finite values are binned at the training window's deciles; NaN is one more bin."""
PSI_FLOOR = 1e-4
"""Bin shares are floored at this before the logarithm, so an empty bin counts as rare."""
PSI_SLIGHT = 0.1
PSI_WARN = 0.25
BROKEN_SHARE = 0.01
"""A feature known in at least this share of one window's rows and never in the other's is
broken, not drifting."""
MIN_DRIFT_ROWS = 100
LABEL_MIN_POSITIVE = 0.05
LABEL_MAX_POSITIVE = 0.95
LABEL_MAX_NAN = 0.10
"""Inside a training window labels are only missing around data gaps; above 10 % the window
is more hole than data."""
IMPORTANCE_MAX_SHARE = 0.6


def psi(expected: F64, actual: F64, bins: int = PSI_BINS, floor: float = PSI_FLOOR) -> float:
    """Population stability index Σ (a − e)·ln(a / e) of `actual` against `expected`.

    Bins: the distinct deciles of the finite expected values cut the line into at most `bins`
    intervals (a discrete feature gets one per value), and non-finite values form their own
    bin, so a change in how often a feature is missing counts as drift too.
    """
    e_fin, a_fin = np.isfinite(expected), np.isfinite(actual)
    if expected.size == 0 or actual.size == 0:
        return math.nan
    inner = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    edges = np.unique(np.quantile(expected[e_fin], inner)) if e_fin.any() else np.zeros(0)

    def shares(x: F64, finite: npt.NDArray[np.bool_]) -> F64:
        idx = np.searchsorted(edges, x[finite], side="right")
        counts = np.r_[np.bincount(idx, minlength=edges.size + 1), int((~finite).sum())]
        out: F64 = np.maximum(counts / x.size, floor)
        return out

    pe, pa = shares(expected, e_fin), shares(actual, a_fin)
    return float(((pa - pe) * np.log(pa / pe)).sum())


def warm_start(matrix: F64) -> int:
    """First row at which every feature that is ever known has been known once: rows before
    it are indicator warm-up, whose missing values describe the series' start, not the market."""
    known = np.isfinite(matrix)
    ever = known.any(axis=0)
    if not ever.any():
        return int(matrix.shape[0])
    return int(np.argmax(known[:, ever], axis=0).max())


def drift_checks(
    series_list: Sequence[CandleSeries],
    spec: FeatureSpec,
    record: ModelRecord,
    settings: CheckSettings,
) -> list[CheckResult]:
    """PSI per feature between the training window [train_first_ms, train_last_ms] and the
    last `recent_days` of the data (features computed on whole series, warm-up rows left out
    of both; warm-up ends where every feature known by the window's end has been seen)."""
    if not any(len(s) for s in series_list):
        return [CheckResult("feature_drift", True, "info", None, PSI_WARN, "no candles given")]
    recent_from = max(int(s.open_time[-1]) for s in series_list if len(s)) - int(
        settings.recent_days * DAY_MS
    )
    train_parts, recent_parts = [], []
    for s in series_list:
        m = spec.matrix(s)
        t = s.open_time
        # Warm-up is judged on the rows up to the window's end: a feature that first appears
        # later must not push it past the window (it is broken there, not warming up).
        upto = int(np.searchsorted(t, record.train_last_ms, "right"))
        warm = np.arange(len(s)) >= warm_start(m[:upto] if upto else m)
        train_parts.append(m[warm & (t >= record.train_first_ms) & (t <= record.train_last_ms)])
        recent_parts.append(m[warm & (t >= recent_from)])
    train = np.concatenate(train_parts)
    recent = np.concatenate(recent_parts)
    if train.shape[0] < MIN_DRIFT_ROWS or recent.shape[0] < MIN_DRIFT_ROWS:
        return [
            CheckResult(
                "feature_drift",
                True,
                "info",
                None,
                PSI_WARN,
                f"not measured: {train.shape[0]} warm rows in the training window and "
                f"{recent.shape[0]} in the last {settings.recent_days:g} days of the data "
                f"(need {MIN_DRIFT_ROWS} each)",
            )
        ]
    where = f"training window {train.shape[0]} rows vs last {settings.recent_days:g} days "
    where += f"{recent.shape[0]} rows"
    return [
        _drift_result(name, train[:, j], recent[:, j], where) for j, name in enumerate(spec.names)
    ]


def _drift_result(name: str, train: F64, recent: F64, where: str) -> CheckResult:
    value = psi(train, recent)
    k_train, k_recent = float(np.isfinite(train).mean()), float(np.isfinite(recent).mean())
    label = f"feature_drift[{name}]"
    known = f"known in {k_train:.1%} → {k_recent:.1%} of rows"
    if (k_train >= BROKEN_SHARE and k_recent == 0) or (k_recent >= BROKEN_SHARE and k_train == 0):
        return CheckResult(
            label,
            False,
            "fail",
            value,
            None,
            f"{name} is {known} ({where}): the feature is broken, not drifting",
        )
    if value > PSI_WARN:
        text = f"PSI {value:.3f} > {PSI_WARN:g}: significant shift ({known}; {where})"
        return CheckResult(label, False, "warn", value, PSI_WARN, text)
    level = "moderate shift" if value > PSI_SLIGHT else "stable"
    text = f"PSI {value:.3f}: {level} ({known}; {where})"
    return CheckResult(label, True, "warn", value, PSI_WARN, text)


def label_balance_checks(
    series_list: Sequence[CandleSeries],
    labels: LabelParams,
    record: ModelRecord,
    ticks: Mapping[str, Decimal] | None = None,
) -> list[CheckResult]:
    """Share of positive net labels and of missing labels per side over the bars of the
    training window (all bars of every series when the window is in none of them)."""
    per_side: dict[str, list[F64]] = {"long": [], "short": []}
    masks = [
        (s.open_time >= record.train_first_ms) & (s.open_time <= record.train_last_ms)
        for s in series_list
    ]
    in_window = any(bool(m.any()) for m in masks)
    for s, mask in zip(series_list, masks, strict=True):
        lab = forward_labels(s, labels, tick=(ticks or {}).get(s.symbol))
        keep = mask if in_window else slice(None)
        per_side["long"].append(lab.long[keep])
        per_side["short"].append(lab.short[keep])
    scope = "training window" if in_window else "whole series (training window not in the data)"
    out = []
    for side, parts in per_side.items():
        y = np.concatenate(parts) if parts else np.zeros(0)
        finite = y[np.isfinite(y)]
        name = f"label_balance[{side}]"
        nan_share = 1.0 - finite.size / y.size if y.size else 1.0
        if finite.size == 0:
            out.append(
                CheckResult(
                    name,
                    False,
                    "fail",
                    None,
                    None,
                    f"no realised {side} label in the {scope} ({y.size} bars): nothing to learn",
                )
            )
            continue
        pos = float((finite > 0).mean())
        facts = (
            f"{pos:.1%} of {finite.size} {side} labels positive, {nan_share:.1%} of bars "
            f"unlabelled ({scope})"
        )
        if not LABEL_MIN_POSITIVE <= pos <= LABEL_MAX_POSITIVE:
            bound = LABEL_MIN_POSITIVE if pos < LABEL_MIN_POSITIVE else LABEL_MAX_POSITIVE
            text = f"{facts}: outside [{LABEL_MIN_POSITIVE:.0%}, {LABEL_MAX_POSITIVE:.0%}]"
            out.append(CheckResult(name, False, "warn", pos, bound, text))
        elif nan_share > LABEL_MAX_NAN:
            text = f"{facts}: more than {LABEL_MAX_NAN:.0%} unlabelled, the data has holes"
            out.append(CheckResult(name, False, "warn", pos, LABEL_MIN_POSITIVE, text))
        else:
            out.append(CheckResult(name, True, "warn", pos, LABEL_MIN_POSITIVE, facts))
    return out


def gain_shares(model: bytes, feature_names: Sequence[str]) -> dict[str, float]:
    """Each input's share of the booster's total gain, in input order (0 for unused inputs).

    Total gain (the loss reduction summed over every split on the input) rather than the
    average gain per split: the share of the model's fit an input carries, which is what a
    leak takes over; the average overrates an input used once in a lucky split. Keys the
    booster reports as f0, f1, … are mapped to `feature_names` by position.
    """
    booster = load_booster(model)
    raw = booster.get_score(importance_type="total_gain")
    by_name = {n: 0.0 for n in feature_names}
    for key, value in raw.items():
        name = key
        if key not in by_name and key.startswith("f") and key[1:].isdigit():
            i = int(key[1:])
            name = feature_names[i] if i < len(feature_names) else key
        by_name[name] = by_name.get(name, 0.0) + float(np.sum(value))
    total = sum(by_name.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in by_name.items()}


def importance_check(model: bytes, feature_names: Sequence[str]) -> CheckResult:
    """Warns when one input holds more than 60 % of the total gain; lists every share."""
    shares = gain_shares(model, feature_names)
    if not shares or max(shares.values()) == 0.0:
        return CheckResult(
            "feature_importance",
            False,
            "warn",
            None,
            IMPORTANCE_MAX_SHARE,
            "the model makes no split: it predicts a constant",
        )
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    top_name, top = ranked[0]
    listing = ", ".join(f"{k} {v:.1%}" for k, v in ranked)
    if top > IMPORTANCE_MAX_SHARE:
        text = (
            f"{top_name} holds {top:.1%} of the total gain (> {IMPORTANCE_MAX_SHARE:.0%}); a "
            f"leak often looks like this: {listing}"
        )
        return CheckResult("feature_importance", False, "warn", top, IMPORTANCE_MAX_SHARE, text)
    text = f"share of total gain: {listing}"
    return CheckResult("feature_importance", True, "warn", top, IMPORTANCE_MAX_SHARE, text)
