"""Model use cases for the CLI and the self-learning loop: train, check, promote, list, serve.

`train_model` runs the whole training (dataset, walk-forward, final fit) in a memory-capped
child process (`slt.model.worker`), so a failure there is a `TrainingError` and never a crash
of the caller; the caller's event loop stays free while it runs. The new model is registered
as a candidate whose parent is the current champion; promoting it is a separate decision,
and `promote_model` takes it only for a model whose stored bias and health checks
(`check_model`, run in a capped child process too) passed.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

from slt.config import Settings
from slt.domain import CandleSeries
from slt.model.checks import CheckJob, CheckReport, CheckSettings, run_check_job
from slt.model.config import ModelConfig
from slt.model.errors import PromotionBlockedError, TrainingError
from slt.model.features import FeatureSpec, default_feature_spec
from slt.model.labels import LabelParams
from slt.model.pipeline import TrainingJob, run_training_job, save_candles
from slt.model.predictor import Predictor
from slt.model.registry import ModelRecord, ModelRegistry, ModelStatus, new_model_id
from slt.model.worker import MIB, Report, run_isolated
from slt.rules import ExchangeRules, bundled_rules
from slt.storage import create_engine, migrate

A = TypeVar("A")
R = TypeVar("R")
Progress = Callable[[str, int, int], None]
"""(stage, done, total); called from a worker thread while training runs."""


def model_config(settings: Settings) -> ModelConfig:
    return settings.model


def models_dir(settings: Settings) -> Path:
    return settings.data_dir / "models"


@asynccontextmanager
async def open_registry(settings: Settings) -> AsyncIterator[ModelRegistry]:
    """A registry on the configured database (migrated) and `<data_dir>/models`."""
    engine = create_engine(settings.effective_database_url)
    try:
        await migrate(engine)
        yield ModelRegistry(engine, models_dir(settings))
    finally:
        await engine.dispose()


async def train_model(
    settings: Settings,
    series_list: Sequence[CandleSeries],
    *,
    progress: Progress | None = None,
    config: ModelConfig | None = None,
    features: FeatureSpec | None = None,
    rules: ExchangeRules | None = None,
) -> ModelRecord:
    """Train on `series_list` (one interval; include warm-up history before the window) and
    register the result as a candidate. Raises `TrainingError` when no model came out."""
    cfg = config or model_config(settings)
    spec = features or default_feature_spec()
    if not series_list:
        raise TrainingError("no candles to train on; import data with `slt data import FILE...`")
    wrong = sorted({s.interval for s in series_list} - {cfg.interval})
    if wrong:
        raise TrainingError(
            f"training data is {', '.join(wrong)} but the model interval is {cfg.interval}; "
            "load candles of the model interval"
        )
    labels = LabelParams.from_config(settings.risk, settings.fees, cfg.horizon_bars)
    ticks = _tick_texts(rules, series_list)
    outcome = await _on_candles(
        settings,
        cfg,
        series_list,
        run_training_job,
        lambda path: TrainingJob(path, spec, labels, cfg, ticks),
        progress,
    )
    created_ms = int(time.time() * 1000)
    async with open_registry(settings) as registry:
        parent = await registry.champion()
        draft = candidate_record(
            new_model_id(created_ms, outcome.model),
            created_ms,
            None if parent is None else parent.model_id,
            outcome,
            outcome.interval,
            Training(spec, cfg, labels),
            outcome.metrics,
        )
        return await registry.register(draft, outcome.model)


class TrainedWindow(Protocol):
    """What a training says about its data: the symbols, the span (UTC ms) and its hash."""

    @property
    def symbols(self) -> tuple[str, ...]: ...
    @property
    def first_ms(self) -> int: ...
    @property
    def last_ms(self) -> int: ...
    @property
    def fingerprint(self) -> str: ...


@dataclass(frozen=True)
class Training:
    """How a model was trained: its features, its configuration and its labels."""

    spec: FeatureSpec
    cfg: ModelConfig
    labels: LabelParams


def candidate_record(
    model_id: str,
    created_ms: int,
    parent_id: str | None,
    window: TrainedWindow,
    interval: str,
    training: Training,
    metrics: dict[str, Any],
) -> ModelRecord:
    """The registry draft of a new candidate, from `slt train` or a live retrain alike, so the
    two record the same facts about how a model came to be."""
    spec, cfg = training.spec, training.cfg
    return ModelRecord(
        model_id=model_id,
        created_ms=created_ms,
        status=ModelStatus.CANDIDATE,
        parent_id=parent_id,
        schema_version=spec.schema_version,
        schema_hash=spec.schema_hash,
        feature_names=(*spec.names, "direction"),
        interval=interval,
        symbols=window.symbols,
        train_first_ms=window.first_ms,
        train_last_ms=window.last_ms,
        data_fingerprint=window.fingerprint,
        label_horizon=cfg.horizon_bars,
        label_params=training.labels.to_dict(),
        xgb_params=xgb_record_params(cfg),
        metrics=metrics,
    )


def xgb_record_params(cfg: ModelConfig) -> dict[str, Any]:
    """The booster parameters a model record keeps (those of `slt train` and live retrains)."""
    return {
        **cfg.xgb.booster_params(),
        "num_boost_round": cfg.xgb.num_boost_round,
        "early_stopping_rounds": cfg.xgb.early_stopping_rounds,
    }


async def _on_candles(
    settings: Settings,
    cfg: ModelConfig,
    series_list: Sequence[CandleSeries],
    job: Callable[[A, Report], R],
    make_arg: Callable[[str], A],
    progress: Progress | None,
) -> R:
    """Hand `series_list` to a capped child process as an .npz file and run `job` there on
    `make_arg(path)` (training and checks alike); the file is gone afterwards."""
    with _scratch(settings, "job-") as tmp:
        path = tmp / "candles.npz"
        save_candles(series_list, path)
        return await asyncio.to_thread(
            run_isolated,
            job,
            make_arg(str(path)),
            memory_limit_bytes=cfg.memory_limit_mb * MIB,
            timeout_s=cfg.timeout_s,
            progress=progress,
        )


def _tick_texts(rules: ExchangeRules | None, series_list: Sequence[CandleSeries]) -> dict[str, str]:
    """Tick sizes of the series' symbols as strings (picklable for the child process)."""
    known = rules or bundled_rules()
    return {s: str(t) for s, t in tick_sizes(known, [x.symbol for x in series_list]).items()}


async def check_model(
    settings: Settings,
    model_id: str,
    series_list: Sequence[CandleSeries],
    *,
    test_start_ms: int | None = None,
    progress: Progress | None = None,
    rules: ExchangeRules | None = None,
    check_settings: CheckSettings | None = None,
    features: FeatureSpec | None = None,
) -> CheckReport:
    """Run every bias and health check of `model_id` on `series_list` (its training candles
    and any later ones) in a capped child process, and store the report with the model."""
    cfg = model_config(settings)
    async with open_registry(settings) as registry:
        record = await registry.get(model_id)
        model = registry.read_model(record)
    ticks = _tick_texts(rules, series_list)
    report = await _on_candles(
        settings,
        cfg,
        series_list,
        run_check_job,
        lambda path: CheckJob(
            path,
            record,
            model,
            cfg,
            features or default_feature_spec(),
            ticks,
            test_start_ms,
            check_settings or CheckSettings(),
        ),
        progress,
    )
    stored = {**report.to_dict(), "checked_ms": int(time.time() * 1000)}
    async with open_registry(settings) as registry:
        await registry.record_checks(model_id, stored)
    return report


def stored_checks(record: ModelRecord) -> CheckReport | None:
    """The check report stored with `record`, if it was checked."""
    return None if record.checks is None else CheckReport.from_dict(record.checks)


async def promote_model(settings: Settings, model_id: str) -> ModelRecord:
    """Make `model_id` the champion (the previous one retires), only when its stored checks
    passed: `PromotionBlockedError` otherwise, naming the failures and the way out."""
    async with open_registry(settings) as registry:
        record = await registry.get(model_id)
        report = stored_checks(record)
        if report is None:
            raise PromotionBlockedError(
                f"model {model_id} has not been checked; run `slt model check {model_id}` "
                "before promoting it"
            )
        if not report.passed:
            failed = ", ".join(r.name for r in report.failures)
            raise PromotionBlockedError(
                f"model {model_id} failed its checks ({failed}) and cannot become champion; "
                f"see `slt model check {model_id}`, fix the cause and retrain"
            )
        await registry.set_status(model_id, ModelStatus.CHAMPION)
        return await registry.get(model_id)


@contextmanager
def _scratch(settings: Settings, prefix: str) -> Iterator[Path]:
    """A temporary folder under the data directory for files handed to a child process."""
    scratch = settings.data_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch, prefix=prefix) as tmp:
        yield Path(tmp)


async def list_models(settings: Settings, status: ModelStatus | None = None) -> list[ModelRecord]:
    """Registered models, newest first."""
    async with open_registry(settings) as registry:
        return await registry.list(status)


async def get_model(settings: Settings, model_id: str) -> ModelRecord:
    """One model's record; `ModelNotFoundError` when there is none with this id."""
    async with open_registry(settings) as registry:
        return await registry.get(model_id)


async def set_model_status(settings: Settings, model_id: str, status: ModelStatus) -> None:
    """Promote (the previous champion retires), demote or retire a model."""
    async with open_registry(settings) as registry:
        await registry.set_status(model_id, status)


async def load_predictor(
    settings: Settings, model_id: str | None = None, *, features: FeatureSpec | None = None
) -> Predictor | None:
    """A predictor for `model_id` (default: the champion, None when there is none), checked
    against the running feature schema."""
    spec = features or default_feature_spec()
    async with open_registry(settings) as registry:
        record = await registry.get(model_id) if model_id else await registry.champion()
        if record is None:
            return None
        return Predictor(record, registry.read_model(record), schema_hash=spec.schema_hash)


def tick_sizes(rules: ExchangeRules, symbols: Sequence[str]) -> dict[str, Decimal]:
    """Tick sizes of the symbols the rules know (labels put prices on this grid)."""
    return {s: rules.get(s).tick_size for s in symbols if s in rules}
