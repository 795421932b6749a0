"""Checks for lookahead and leaks: feature causality, two null controls of the whole pipeline,
the out-of-sample IC alarm, and the separation of training and test periods.

Why each exists (docs/FEATURES.md, "What an honest result looks like"):

* a feature that reads a later candle makes every metric a lie, and it is invisible in the
  metrics themselves; recomputing features on truncated data is the direct test;
* a pipeline that finds signal where there is none (a random walk, shuffled labels) is broken
  somewhere between the features, the labels and the evaluation, wherever that is;
* real intraday models land at an out-of-sample IC of 0.00–0.03; above 0.1 at 1m–15m
  horizons it is almost always a leak;
* a model judged on candles its labels were computed from has seen the answers.

The controls' bound. Under no signal the out-of-sample Spearman IC is centred on 0 with a
standard error of 1/√n_eff. On the random walk rows overlap in time: a label spans up to H + 1
bars, and the long and short rows of one bar are one bet seen from two sides. So n_eff is the
sum over the out-of-sample rows of their uniqueness weights (`slt.model.dataset`: one per
independent trade), halved. Measured on eight seeds of the default random walk (4 × 20k bars,
H = 120) the IC's spread was 0.049 against this formula's 0.056, while rows/H gave 0.044.
Shuffling labels over all rows makes them exchangeable, so there n_eff = rows − 1 exactly.
A control fails when |IC| exceeds max(4 SE, 0.03): 4 SE keeps a seeded (hence repeatable)
control from failing by chance (two-sided p ≈ 6e-5), and 0.03 — the top of what honest models
reach — keeps a huge sample from failing on an effect too small to matter. For scale: a feature
that sees 5 bars ahead gives an IC of about 0.25 on the default random walk, 10 bars 0.33.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import numpy as np

from slt.domain import CandleSeries
from slt.domain.candle import DAY_MS, F64, I64
from slt.domain.candle import interval_ms as bar_ms
from slt.model.checks_report import CheckResult, CheckSettings
from slt.model.config import ModelConfig
from slt.model.dataset import Dataset, build_dataset
from slt.model.features import FeatureSpec
from slt.model.labels import LabelParams
from slt.model.registry import ModelRecord
from slt.model.walkforward import purged_train_mask, walk_forward

IC_ALARM = 0.1
"""Recorded out-of-sample IC above this fails: at 1m–15m horizons that is almost always a
leak (real models land at 0.00–0.03)."""
CONTROL_SE_MULTIPLE = 4.0
CONTROL_IC_FLOOR = 0.03
DEFAULT_SIGMA = 1e-3
"""Per-bar log-return volatility of the random walk when no candles are given to calibrate
it (1m crypto majors: 3e-4 to 1.2e-3)."""
RANDOM_WALK_T0 = 1_704_067_200_000
"""2024-01-01 00:00 UTC: the random walk starts at midnight so its UTC days are whole."""


def utc(ms: int) -> str:
    """An open time as `YYYY-MM-DD HH:MM UTC`."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ms / 1000))


def control_bound(se: float) -> float:
    """|IC| a control may reach: max(4 standard errors, 0.03) (see the module doc)."""
    return max(CONTROL_SE_MULTIPLE * se, CONTROL_IC_FLOOR)


# Lookahead ------------------------------------------------------------------------------------


def truncation_points(n: int, points: int) -> list[int]:
    """`points` rows spread evenly over 0..n−1 (first and last included), deterministic."""
    if n <= 0:
        return []
    grid = np.rint(np.linspace(0, n - 1, min(points, n))).astype(np.int64)
    return sorted({int(t) for t in grid})


def lookahead_check(
    series_list: Sequence[CandleSeries], spec: FeatureSpec, settings: CheckSettings
) -> CheckResult:
    """Row t of the features of a series must equal the last row of the features of the
    series cut after t (NaN equal to NaN), at `lookahead_points` rows of each tested series.

    Any difference means a value at t changed when later candles arrived: the feature reads
    the future. Fails on any mismatch; the detail names the feature, symbol and row.
    """
    mismatches: list[str] = []
    count = tested = 0
    for series in list(series_list)[: settings.lookahead_series]:
        s = series.slice(max(0, len(series) - settings.lookahead_max_bars), len(series))
        full = spec.matrix(s)
        for t in truncation_points(len(s), settings.lookahead_points):
            cut = spec.matrix(s.slice(0, t + 1))[-1]
            a = full[t]
            same = (a == cut) | (np.isnan(a) & np.isnan(cut))
            tested += 1
            for j in np.flatnonzero(~same):
                count += 1
                if len(mismatches) < 5:
                    mismatches.append(
                        f"{spec.names[j]} of {s.symbol} at row {t} (open {int(s.open_time[t])}): "
                        f"{a[j]:.6g} on the whole series, {cut[j]:.6g} on data up to that bar"
                    )
    if tested == 0:
        return CheckResult("lookahead", True, "info", None, 0.0, "no candles to test")
    if count:
        return CheckResult(
            "lookahead",
            False,
            "fail",
            float(count),
            0.0,
            f"{count} feature values at {tested} truncation points change when later candles "
            f"are added, so they read the future: {'; '.join(mismatches)}",
        )
    return CheckResult(
        "lookahead",
        True,
        "fail",
        0.0,
        0.0,
        f"features at {tested} truncation points equal those computed on data ending there",
    )


# The two controls -----------------------------------------------------------------------------


def calibrated_sigma(series_list: Sequence[CandleSeries]) -> float:
    """Median over the series of a robust per-bar log-return volatility (1.4826 · MAD)."""
    values = []
    for s in series_list:
        r = np.diff(np.log(s.close[np.isfinite(s.close) & (s.close > 0)]))
        if r.size > 100:
            values.append(1.4826 * float(np.median(np.abs(r - np.median(r)))))
    sigma = float(np.median(values)) if values else DEFAULT_SIGMA
    return min(max(sigma, 1e-4), 1e-2) if math.isfinite(sigma) else DEFAULT_SIGMA


def random_walk_series(
    symbols: int, bars: int, *, sigma: float, seed: int, interval: str = "1m"
) -> list[CandleSeries]:
    """Seeded geometric random walks with candle-like OHLCV: open = previous close, wicks
    half-normal (σ/2) beyond the body, volume log-normal. Zero drift, constant volatility:
    no function of the past predicts the next return, its sign or its distribution."""
    rng = np.random.default_rng(seed)
    step_ms = bar_ms(interval)
    out = []
    for i in range(symbols):
        close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, bars)))
        opens = np.r_[100.0, close[:-1]]
        wick = np.abs(rng.normal(0.0, sigma / 2, (2, bars)))
        out.append(
            CandleSeries(
                f"RW{i}USDT",
                interval,
                RANDOM_WALK_T0 + step_ms * np.arange(bars, dtype=np.int64),
                opens,
                np.maximum(opens, close) * (1 + wick[0]),
                np.minimum(opens, close) * (1 - wick[1]),
                close,
                rng.lognormal(3.0, 1.0, bars),
            )
        )
    return out


def control_walk_forward(
    ds: Dataset, config: ModelConfig, horizon_bars: int, settings: CheckSettings
) -> tuple[float, I64, F64]:
    """(pooled OOS IC, OOS row indices, predictions) of the pipeline's walk-forward on `ds`,
    with the configured purging, embargo, early stopping and winsorisation but at most
    `control_folds` folds and `control_max_rounds` rounds."""
    interval_ms = ds.interval_ms
    params = config.xgb.model_copy(
        update={"num_boost_round": min(config.xgb.num_boost_round, settings.control_max_rounds)}
    )
    result = walk_forward(
        ds,
        params,
        folds=min(max(config.walk_forward_folds, 1), settings.control_folds),
        test_fraction=config.walk_forward_test_fraction,
        embargo_ms=max(config.effective_embargo_bars, horizon_bars) * interval_ms,
        gap_ms=horizon_bars * interval_ms,
        eval_fraction=config.eval_fraction,
        winsor_quantile=config.winsor_quantile,
        min_rows_per_day=config.min_rows_per_day,
    )
    return result.metrics.ic, result.rows, result.prediction


def _control_result(name: str, ic: float, se: float, what: str, rows: int) -> CheckResult:
    if rows == 0 or not math.isfinite(ic):
        return CheckResult(
            name,
            False,
            "warn",
            None,
            None,
            f"{what}: no out-of-sample IC came out ({rows} rows predicted); the data is too "
            "short for the walk-forward",
        )
    bound = control_bound(se)
    ok = abs(ic) <= bound
    verdict = "≈ 0 as it must be" if ok else "the pipeline finds signal where there is none"
    return CheckResult(
        name,
        ok,
        "fail",
        ic,
        bound,
        f"{what}: out-of-sample IC {ic:+.4f} on {rows} rows (SE {se:.4f}, bound "
        f"max({CONTROL_SE_MULTIPLE:g} SE, {CONTROL_IC_FLOOR:g}) = {bound:.4f}): {verdict}",
    )


def random_walk_check(
    spec: FeatureSpec,
    labels: LabelParams,
    config: ModelConfig,
    settings: CheckSettings,
    *,
    sigma: float = DEFAULT_SIGMA,
) -> CheckResult:
    """The whole pipeline (features, labels, dataset, purged walk-forward) on a random walk
    must give |OOS IC| ≤ max(4 SE, 0.03) with SE from the overlap-aware n_eff."""
    walk = random_walk_series(
        settings.random_walk_symbols, settings.random_walk_bars, sigma=sigma, seed=settings.seed
    )
    last_open = int(walk[0].open_time[-1])
    ds = build_dataset(walk, spec, labels, since_ms=last_open - config.train_window_days * DAY_MS)
    ic, rows, _ = control_walk_forward(ds, config, labels.horizon_bars, settings)
    n_eff = float(ds.weight[rows].sum()) / 2.0
    se = 1.0 / math.sqrt(n_eff) if n_eff > 1 else math.inf
    what = (
        f"random walk of {settings.random_walk_symbols} symbols × {settings.random_walk_bars} "
        f"bars (σ {sigma:.2g}/bar, seed {settings.seed}), {settings.control_folds} folds, "
        f"≤ {settings.control_max_rounds} rounds, n_eff {n_eff:.0f}"
    )
    return _control_result("random_walk", ic, se, what, int(rows.size))


def permutation_check(
    ds: Dataset, config: ModelConfig, horizon_bars: int, settings: CheckSettings
) -> CheckResult:
    """The walk-forward on the real training rows with their labels shuffled over all rows
    must give |OOS IC| ≤ max(4/√(n−1), 0.03).

    A global shuffle (rather than one within days) removes every link between features and
    labels, day-level regimes included, so the null holds exactly and its SE is known; leaks
    that live in overlapping labels are the random walk's to catch.
    """
    rng = np.random.default_rng(settings.seed)
    shuffled = replace(ds, y=ds.y[rng.permutation(len(ds))])
    ic, rows, _ = control_walk_forward(shuffled, config, horizon_bars, settings)
    se = 1.0 / math.sqrt(rows.size - 1) if rows.size > 1 else math.inf
    what = (
        f"labels of {len(ds)} training rows shuffled (seed {settings.seed}), "
        f"{settings.control_folds} folds, ≤ {settings.control_max_rounds} rounds"
    )
    return _control_result("label_permutation", ic, se, what, int(rows.size))


# IC alarm -------------------------------------------------------------------------------------


def recorded_oos(record: ModelRecord) -> Mapping[str, Any] | None:
    """The walk-forward out-of-sample metrics the pipeline stored with the model, if any."""
    wf = record.metrics.get("walk_forward")
    if not isinstance(wf, Mapping):
        return None
    oos = wf.get("oos")
    return oos if isinstance(oos, Mapping) else None


def ic_alarm_check(record: ModelRecord, test_fraction: float | None = None) -> CheckResult:
    """Fails when the recorded pooled out-of-sample IC exceeds 0.1 (see `IC_ALARM`); warns
    when it is below −0.1 (not a leak's signature, but a model that ranks trades backwards)
    and when no evaluation was recorded."""
    oos = recorded_oos(record)
    ic = None if oos is None else oos.get("ic")
    if ic is None:
        return CheckResult(
            "ic_alarm",
            False,
            "warn",
            None,
            IC_ALARM,
            "no out-of-sample IC was recorded (walk-forward skipped or too little data)",
        )
    ic = float(ic)
    context = _ic_context(record, oos or {}, test_fraction)
    if ic > IC_ALARM:
        return CheckResult(
            "ic_alarm",
            False,
            "fail",
            ic,
            IC_ALARM,
            f"out-of-sample IC {ic:+.4f} > {IC_ALARM:g}: at these horizons that is almost "
            f"always a leak; find it before trusting this model ({context})",
        )
    if ic < -IC_ALARM:
        return CheckResult(
            "ic_alarm",
            False,
            "warn",
            ic,
            -IC_ALARM,
            f"out-of-sample IC {ic:+.4f} < {-IC_ALARM:g}: the model ranks trades backwards "
            f"({context})",
        )
    return CheckResult(
        "ic_alarm",
        True,
        "fail",
        ic,
        IC_ALARM,
        f"out-of-sample IC {ic:+.4f} ≤ {IC_ALARM:g} ({context})",
    )


def _ic_context(record: ModelRecord, oos: Mapping[str, Any], test_fraction: float | None) -> str:
    parts = [f"{oos.get('rows', '?')} rows, {oos.get('days', '?')} days"]
    for key in ("ic_long", "ic_short", "ic_daily_mean", "ic_daily_t"):
        value = oos.get(key)
        if isinstance(value, int | float):
            parts.append(f"{key} {value:+.3f}")
    trades = (record.metrics.get("dataset") or {}).get("effective_trades")
    if isinstance(trades, int | float) and test_fraction and trades * test_fraction > 2:
        parts.append(f"chance level ±{1 / math.sqrt(trades * test_fraction / 2):.3f} (1 SE)")
    return ", ".join(parts)


# Train / test separation ----------------------------------------------------------------------


def label_end_ms(record: ModelRecord, labels: LabelParams, interval_ms: int) -> int:
    """Open time of the last candle a training label of `record` can have read."""
    return record.train_last_ms + labels.span_bars(interval_ms) * interval_ms


def overlap_check(
    record: ModelRecord,
    labels: LabelParams,
    interval_ms: int,
    config: ModelConfig,
    *,
    test_start_ms: int | None,
    ds: Dataset | None = None,
) -> CheckResult:
    """The test period must start after the last candle the training labels read, and every
    recorded walk-forward fold must lie inside the window, in order, without overlap, and be
    purged: its training rows' labels ended an embargo before the fold (checked directly when
    the fold records when its training labels ended, else by count against `ds` when `ds` is
    the data the model was trained on)."""
    problems: list[str] = []
    notes: list[str] = []
    used_until = label_end_ms(record, labels, interval_ms)
    if test_start_ms is not None:
        if test_start_ms <= used_until:
            problems.append(
                f"the test period starting {utc(test_start_ms)} overlaps the training data: "
                f"decisions from {utc(record.train_first_ms)} to {utc(record.train_last_ms)}, "
                f"whose labels may read candles until {utc(used_until)} (the label horizon "
                f"is {labels.span_bars(interval_ms)} bars)"
            )
        else:
            notes.append(
                f"test period starts {utc(test_start_ms)}, after the last candle the training "
                f"labels may read ({utc(used_until)})"
            )
    else:
        notes.append("no test period given")
    embargo_ms = max(config.effective_embargo_bars, record.label_horizon) * interval_ms
    wf = record.metrics.get("walk_forward")
    folds = wf.get("folds") if isinstance(wf, Mapping) else None
    same_data = ds is not None and ds.fingerprint == record.data_fingerprint
    previous_end = record.train_first_ms
    for fold in folds if isinstance(folds, list) else []:
        start, end = int(fold["test_start_ms"]), int(fold["test_end_ms"])
        i = fold.get("index", "?")
        if start < previous_end or end <= start or end > record.train_last_ms + 1:
            problems.append(f"fold {i} [{start}, {end}) is out of order or outside the window")
        previous_end = end
        trained_until = fold.get("train_label_end_ms", fold.get("train_end_ms"))
        if trained_until is not None and int(trained_until) + embargo_ms > start:
            problems.append(
                f"fold {i} trained on labels ending {trained_until}, within the "
                f"{embargo_ms} ms embargo before its test start {start}"
            )
        elif trained_until is None and same_data and ds is not None and fold.get("skipped") is None:
            eligible = int(purged_train_mask(ds, start, embargo_ms).sum())
            if int(fold.get("train_rows", 0)) > eligible:
                problems.append(
                    f"fold {i} trained on {fold['train_rows']} rows but only "
                    f"{eligible} have labels ending an embargo before its test"
                )
    if isinstance(folds, list) and folds:
        how = "by their recorded ends" if not same_data else "against the training rows"
        notes.append(f"{len(folds)} walk-forward folds ordered and purged ({how})")
    if problems:
        return CheckResult(
            "train_test_overlap", False, "fail", float(len(problems)), 0.0, "; ".join(problems)
        )
    return CheckResult("train_test_overlap", True, "fail", 0.0, 0.0, "; ".join(notes))


def dataset_for_record(
    series_list: Sequence[CandleSeries],
    spec: FeatureSpec,
    labels: LabelParams,
    record: ModelRecord,
    ticks: Mapping[str, Decimal] | None = None,
) -> tuple[Dataset, bool]:
    """The rows of `record`'s training window rebuilt from `series_list`, and whether the
    window was found there (when it was not, all rows of the series are returned)."""
    full = build_dataset(series_list, spec, labels, ticks=ticks)
    inside = (full.time_ms >= record.train_first_ms) & (full.time_ms <= record.train_last_ms)
    if bool(inside.any()):
        return full.take(inside), True
    return full, False
