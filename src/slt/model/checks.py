"""Bias and health checks of a trained model (`slt model check`); a failed check blocks promotion.

`run_checks` composes, for one registered model and the candles it was trained on (plus any
more recent ones):

==========================  ========================================================  ========
check                       rule                                                      failure
==========================  ========================================================  ========
schema                      the model's feature schema is the running one             fail
ic_alarm                    recorded out-of-sample IC ≤ 0.1                           fail
train_test_overlap          test period after the training labels; folds purged       fail
label_balance[side]         5–95 % of labels positive, ≤ 10 % missing; ≥ 1 realised   warn/fail
feature_importance          no input holds > 60 % of the total gain                   warn
lookahead                   features equal when recomputed on truncated candles       fail
feature_drift[feature]      PSI training window vs recent days ≤ 0.25; not broken     warn/fail
random_walk                 pipeline on a random walk: |OOS IC| ≤ max(4 SE, 0.03)      fail
label_permutation           pipeline on shuffled labels: |OOS IC| ≤ max(4 SE, 0.03)    fail
==========================  ========================================================  ========

Why each rule and threshold is what it is is written next to the check, in `checks_leaks`
and `checks_data`. The controls train with fewer folds and rounds than the model itself
(`CheckSettings`), so the whole run takes seconds. `run_check_job` is the same computation as
a job for `slt.model.worker`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from pathlib import Path

import numpy as np

from slt.domain import CandleSeries
from slt.model.checks_data import drift_checks, importance_check, label_balance_checks
from slt.model.checks_leaks import (
    CONTROL_SE_MULTIPLE,
    IC_ALARM,
    calibrated_sigma,
    dataset_for_record,
    ic_alarm_check,
    lookahead_check,
    overlap_check,
    permutation_check,
    random_walk_check,
)
from slt.model.checks_report import CheckReport, CheckResult, CheckSettings
from slt.model.config import ModelConfig
from slt.model.dataset import DIRECTION, Dataset
from slt.model.errors import ModelError
from slt.model.features import FeatureSpec, default_feature_spec
from slt.model.labels import LabelParams
from slt.model.pipeline import load_candles
from slt.model.registry import ModelRecord

__all__ = [
    "CheckJob",
    "CheckReport",
    "CheckResult",
    "CheckSettings",
    "challenger_checks",
    "run_check_job",
    "run_checks",
]

Progress = Callable[[str, int, int], None]
"""(check name, checks done, checks in all)."""


def record_label_params(record: ModelRecord) -> LabelParams:
    """The label parameters `record` was trained with."""
    names = {f.name for f in fields(LabelParams)}
    missing = sorted(names - set(record.label_params))
    if missing:
        raise ModelError(
            f"model {record.model_id} does not record its label parameters {missing}; it was "
            "not trained by this version of the model layer — retrain it"
        )
    return LabelParams(**{k: record.label_params[k] for k in names})


def schema_check(record: ModelRecord, spec: FeatureSpec) -> CheckResult:
    """The model must be trained on the features the running code computes, in order."""
    expected = (*spec.names, DIRECTION)
    if record.schema_hash != spec.schema_hash or record.feature_names != expected:
        return CheckResult(
            "schema",
            False,
            "fail",
            None,
            None,
            f"model trained on schema v{record.schema_version} ({record.schema_hash[:12]}…, "
            f"{len(record.feature_names)} inputs); the running code computes v"
            f"{spec.schema_version} ({spec.schema_hash[:12]}…, {len(expected)} inputs)",
        )
    return CheckResult(
        "schema",
        True,
        "fail",
        None,
        None,
        f"schema v{spec.schema_version} ({spec.schema_hash[:12]}…) as running",
    )


def run_checks(
    record: ModelRecord,
    model_bytes: bytes,
    series_list: Sequence[CandleSeries],
    config: ModelConfig,
    *,
    test_start_ms: int | None = None,
    progress: Progress | None = None,
    features: FeatureSpec | None = None,
    ticks: Mapping[str, Decimal] | None = None,
    settings: CheckSettings | None = None,
) -> CheckReport:
    """Every check of `record` (whose model file is `model_bytes`) on `series_list`.

    `series_list` should hold the candles the model was trained on, with warm-up history and
    any more recent candles (drift compares the last `settings.recent_days` with the training
    window). `test_start_ms` is the first decision time of the period the model will be
    judged on (a backtest), if any. `features` defaults to the running feature schema.
    """
    spec = features or default_feature_spec()
    opts = settings or CheckSettings()
    if not any(len(s) for s in series_list):
        raise ModelError("no candles to check the model on; import data first")
    wrong = sorted({s.interval for s in series_list} - {record.interval})
    if wrong:
        raise ModelError(
            f"candles are {', '.join(wrong)} but model {record.model_id} is {record.interval}"
        )
    labels = record_label_params(record)
    interval_ms = series_list[0].interval_ms
    total = 9

    def step(name: str, done: int) -> None:
        if progress is not None:
            progress(name, done, total)

    results: list[CheckResult] = []
    step("schema", 0)
    results.append(schema_check(record, spec))
    results.append(ic_alarm_check(record, config.walk_forward_test_fraction))
    step("dataset", 2)
    ds, _ = dataset_for_record(series_list, spec, labels, record, ticks)
    results.append(
        overlap_check(record, labels, interval_ms, config, test_start_ms=test_start_ms, ds=ds)
    )
    step("label balance", 3)
    results.extend(label_balance_checks(series_list, labels, record, ticks))
    step("feature importance", 4)
    results.append(importance_check(model_bytes, record.feature_names))
    step("lookahead", 5)
    results.append(lookahead_check(series_list, spec, opts))
    step("feature drift", 6)
    results.extend(drift_checks(series_list, spec, record, opts))
    step("random walk", 7)
    sigma = calibrated_sigma(series_list)
    results.append(random_walk_check(spec, labels, config, opts, sigma=sigma))
    step("label permutation", 8)
    results.append(permutation_check(ds, config, labels.horizon_bars, opts))
    step("done", total)
    return CheckReport.of(record.model_id, results)


def challenger_checks(
    model_id: str, model: bytes, feature_names: Sequence[str], holdout: Dataset, ic: float
) -> CheckReport:
    """The checks a challenger trained during a run must pass before it replaces the champion.

    The pipeline-wide checks (lookahead, the random-walk and permutation controls) are
    properties of the code and were run on the first champion (`slt model check`); what can
    differ for a challenger is the model itself. Its holdout IC fails above
    max(IC_ALARM, 4 SE): the holdout is a few days, so chance alone can pass 0.1 there, and the
    standard error uses the holdout's effective number of independent trades (the rows'
    uniqueness weights, halved for the two sides of one bar, as the controls do). The
    concentration of the model's gain on one input is reported as a warning.
    """
    n_eff = float(np.sum(holdout.weight)) / 2.0
    se = 1.0 / math.sqrt(max(n_eff - 1.0, 1.0))
    bound = max(IC_ALARM, CONTROL_SE_MULTIPLE * se)
    facts = f"holdout IC {ic:+.4f} on {len(holdout)} rows (n_eff {n_eff:.0f}, SE {se:.3f})"
    if math.isfinite(ic) and ic > bound:
        alarm = CheckResult(
            "ic_alarm", False, "fail", ic, bound, f"{facts} > {bound:.3f}: looks like a leak"
        )
    else:
        alarm = CheckResult("ic_alarm", True, "fail", ic, bound, f"{facts} ≤ {bound:.3f}")
    return CheckReport.of(model_id, [alarm, importance_check(model, feature_names)])


@dataclass(frozen=True, slots=True)
class CheckJob:
    """Inputs of `run_checks` in the capped child process (all picklable; candles as .npz)."""

    candles_path: str
    record: ModelRecord
    model: bytes
    config: ModelConfig
    features: FeatureSpec
    ticks: dict[str, str]
    test_start_ms: int | None
    settings: CheckSettings


def run_check_job(job: CheckJob, report: Progress) -> CheckReport:
    """The worker entry point: load the candles, then `run_checks`."""
    return run_checks(
        job.record,
        job.model,
        load_candles(Path(job.candles_path)),
        job.config,
        test_start_ms=job.test_start_ms,
        progress=report,
        features=job.features,
        ticks={s: Decimal(t) for s, t in job.ticks.items()},
        settings=job.settings,
    )
