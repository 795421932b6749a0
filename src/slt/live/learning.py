"""Learning from live trades: every N closed trades, retrain off the Brain's loop and keep the
better model.

The Brain owns one `LiveLearner` and calls it from its event loop:

* `on_trade_closed(trade, now_ms)` after each closed trade. Every `retrain_every_trades` trades
  (50 by default) it starts one retraining job in the background and returns at once. While a
  job runs no second one starts; the trades closing meanwhile keep counting, so the next trade
  after the job ends starts another if enough have closed. `now_ms` is the Brain's clock (the
  market's time in a replay): the job uses only candles closed and outcomes known by then.
* `poll()` whenever convenient (each candle): after a promotion it returns the new champion's
  `Predictor` exactly once, else None. The Brain swaps it into its `MLStrategy` in place
  (`strategy.model = predictor`): the per-symbol feature states stay warm, only the model
  scoring them changes, and signals name the new model from the next candle on.

Why this shape: training takes minutes and gigabytes. It runs in a spawned child process with a
memory cap and a timeout (`slt.model.worker.run_isolated`), which reads its own data from the
database (`slt.live.learning_job`), waited on by a daemon thread, so the event loop never
blocks and a stuck job never delays the Brain's exit. The decision is the backtest's
champion/challenger round (`slt.model.challenge`): the challenger is promoted only with a
higher IC than the champion on a recent held-out slice and passing `challenger_checks`; it goes
through the registry like any model (registered as a candidate, its check report stored,
`promote_model` refuses it unless the report passed). Every decision is one INFO line with the
figures it was made on; a failed job is a warning and the champion keeps trading.

Off switches, each logged once when the learner is made: `DISABLE_MODEL_TRAINING`, and any
strategy other than `ml` (the baseline has no model to retrain).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, TypeVar

from slt.config import Settings
from slt.domain import TradeRecord
from slt.live.learning_job import LearningJob, LearningOutcome, run_learning_job
from slt.model.errors import ModelError
from slt.model.features import FeatureSpec, default_feature_spec
from slt.model.labels import LabelParams
from slt.model.predictor import Predictor
from slt.model.registry import ModelRecord, ModelStatus
from slt.model.service import (
    load_predictor,
    open_registry,
    promote_model,
    tick_sizes,
    xgb_record_params,
)
from slt.model.worker import MIB, Report, run_isolated
from slt.rules import ExchangeRules, bundled_rules

log = logging.getLogger("slt.brain.learning")

R = TypeVar("R")
Job = Callable[[LearningJob, Report], LearningOutcome]
"""A module-level job function (it is pickled by reference into the child)."""


class LiveLearner:
    """Counts closed trades, retrains in the background, hands over a promoted champion."""

    def __init__(
        self,
        settings: Settings,
        symbols: Sequence[str],
        *,
        strategy: str,
        interval: str | None = None,
        features: FeatureSpec | None = None,
        rules: ExchangeRules | None = None,
        job: Job = run_learning_job,
    ) -> None:
        """`strategy` is the name the run trades (`ml` or `baseline`); `interval` defaults to
        the model's. `features` and `job` exist for tests and must be picklable."""
        self.settings = settings
        self.cfg = settings.model
        self.symbols = tuple(symbols)
        self.interval = interval or self.cfg.interval
        self._features = features
        self._rules = rules
        self._job = job
        self._closed = 0
        self._task: asyncio.Task[None] | None = None
        self._pending: Predictor | None = None
        self.jobs_started = 0
        self.reason_off = self._reason_off(strategy)
        self.active = self.reason_off is None
        if self.reason_off is not None:
            log.info("live training is off: %s", self.reason_off)
        else:
            log.info(
                "live training is on: a challenger is trained every %d closed trades on %d "
                "symbols (%d days of %s candles plus the experience buffer)",
                self.cfg.retrain_every_trades,
                len(self.symbols),
                self.cfg.train_window_days,
                self.interval,
            )

    def _reason_off(self, strategy: str) -> str | None:
        if self.settings.disable_model_training:
            return "DISABLE_MODEL_TRAINING is set; the champion trades unchanged"
        if strategy != "ml":
            return f"the {strategy} strategy has no model to retrain"
        if self.interval != self.cfg.interval:
            return (
                f"the run trades {self.interval} candles but models are trained on "
                f"{self.cfg.interval} (model.interval)"
            )
        if not self.symbols:
            return "no symbols to train on"
        return None

    # --- what the Brain calls ------------------------------------------------------------
    @property
    def running(self) -> bool:
        """A retraining job is in progress."""
        return self._task is not None and not self._task.done()

    def on_trade_closed(self, trade: TradeRecord, now_ms: int) -> None:
        """Count `trade`; at every `retrain_every_trades`-th start a job unless one runs.

        Call from the event loop (the job becomes a task on it); returns immediately."""
        if not self.active:
            return
        self._closed += 1
        if self._closed < self.cfg.retrain_every_trades:
            return
        if self.running:
            log.debug("%d trades closed; a retrain is still running", self._closed)
            return
        trades, self._closed = self._closed, 0
        self.jobs_started += 1
        self._task = asyncio.get_running_loop().create_task(
            self._retrain(now_ms, trades), name="slt-live-retrain"
        )

    def poll(self) -> Predictor | None:
        """The champion promoted since the last call, once; None when nothing changed."""
        promoted, self._pending = self._pending, None
        return promoted

    async def wait(self) -> None:
        """Wait for the running job, if any (tests; a Brain never needs to)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        """Stop waiting for a running job (its outcome is dropped). The child process and its
        thread are daemons: they end with the job, or with the Brain's process."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- the background job --------------------------------------------------------------
    async def _retrain(self, now_ms: int, trades: int) -> None:
        champion_id = "(none)"
        try:
            found = await self._champion()
            if found is None:
                log.info("live retrain skipped: there is no champion model to challenge")
                return
            champion, model = found
            champion_id = champion.model_id
            spec = self._spec()
            if champion.schema_hash != spec.schema_hash:
                log.warning(
                    "live retrain skipped: champion %s was trained on another feature schema",
                    champion_id,
                )
                return
            job = LearningJob(
                database_url=self.settings.effective_database_url,
                symbols=self.symbols,
                interval=self.interval,
                now_ms=now_ms,
                warmup_bars=self.settings.live.warmup_bars,
                champion_id=champion_id,
                champion_model=model,
                features=spec,
                labels=LabelParams.from_config(
                    self.settings.risk, self.settings.fees, self.cfg.horizon_bars
                ),
                config=self.cfg,
                ticks={s: str(t) for s, t in tick_sizes(self._known_rules(), self.symbols).items()},
            )
            log.info(
                "live retrain started after %d closed trades: challenging %s", trades, champion_id
            )
            started = time.monotonic()
            outcome = await _off_loop(lambda: self._run(job))
            await self._decide(outcome, champion, time.monotonic() - started)
        except ModelError as exc:
            log.warning("live retrain failed; champion %s trades on: %s", champion_id, exc)
        except Exception as exc:  # the Brain must never fall over because learning did
            log.warning(
                "live retrain failed; champion %s trades on: %s: %s",
                champion_id,
                type(exc).__name__,
                exc,
                exc_info=True,
            )

    def _run(self, job: LearningJob) -> LearningOutcome:
        def progress(stage: str, done: int, total: int) -> None:
            log.debug("live retrain: %s %d/%d", stage, done, total)

        return run_isolated(
            self._job,
            job,
            memory_limit_bytes=self.cfg.memory_limit_mb * MIB,
            timeout_s=self.cfg.timeout_s,
            progress=progress,
        )

    async def _champion(self) -> tuple[ModelRecord, bytes] | None:
        async with open_registry(self.settings) as registry:
            record = await registry.champion()
            return None if record is None else (record, registry.read_model(record))

    async def _decide(self, outcome: LearningOutcome, champion: ModelRecord, took: float) -> None:
        """Register the challenger with its checks; promote it when the verdict says so and
        the champion it was judged against is still the champion."""
        verdict = outcome.verdict
        metrics = verdict.metrics(outcome.experience_rows)
        now = int(time.time() * 1000)
        async with open_registry(self.settings) as registry:
            record = await registry.register(self._draft(outcome, champion, metrics), outcome.model)
            await registry.record_checks(
                record.model_id, {**verdict.report.to_dict(), "checked_ms": now}
            )
            current = await registry.champion()
        facts = (
            f"{outcome.rows} rows ({outcome.experience_rows} from live trades), "
            f"{verdict.holdout_rows} holdout rows, {took:.0f} s"
        )
        if not verdict.promoted:
            log.info(
                "live retrain kept champion %s over challenger %s: %s; %s",
                champion.model_id,
                record.model_id,
                verdict.note,
                facts,
            )
            return
        if current is None or current.model_id != champion.model_id:
            log.info(
                "live retrain kept the champion: challenger %s beat %s, but the champion is "
                "now %s (changed while training), so that comparison no longer holds; %s",
                record.model_id,
                champion.model_id,
                "none" if current is None else current.model_id,
                facts,
            )
            return
        await promote_model(self.settings, record.model_id)
        self._pending = await load_predictor(self.settings, record.model_id, features=self._spec())
        report = verdict.report
        checks = ", ".join(r.name for r in report.results if r.passed)
        if report.warnings:
            checks += f"; warnings: {', '.join(r.name for r in report.warnings)}"
        log.info(
            "live retrain promoted %s over %s: holdout IC %+.4f vs %+.4f; %s; checks passed: %s",
            record.model_id,
            champion.model_id,
            verdict.challenger_ic,
            verdict.champion_ic,
            facts,
            checks,
        )

    def _draft(
        self, outcome: LearningOutcome, champion: ModelRecord, metrics: dict[str, float]
    ) -> ModelRecord:
        spec = self._spec()
        fit = {k: _finite(v) for k, v in asdict(outcome.fit).items() if k != "model"}
        return ModelRecord(
            model_id=outcome.verdict.challenger_id,
            created_ms=int(time.time() * 1000),
            status=ModelStatus.CANDIDATE,
            parent_id=champion.model_id,
            schema_version=spec.schema_version,
            schema_hash=spec.schema_hash,
            feature_names=(*spec.names, "direction"),
            interval=self.interval,
            symbols=outcome.symbols,
            train_first_ms=outcome.first_ms,
            train_last_ms=outcome.last_ms,
            data_fingerprint=outcome.fingerprint,
            label_horizon=self.cfg.horizon_bars,
            label_params=LabelParams.from_config(
                self.settings.risk, self.settings.fees, self.cfg.horizon_bars
            ).to_dict(),
            xgb_params=xgb_record_params(self.cfg),
            metrics={
                "live_retrain": {k: _finite(v) for k, v in metrics.items()},
                "fit": fit,
            },
        )

    def _spec(self) -> FeatureSpec:
        if self._features is None:
            self._features = default_feature_spec()
        return self._features

    def _known_rules(self) -> ExchangeRules:
        if self._rules is None:
            self._rules = bundled_rules()
        return self._rules


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: such a float is stored as None."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


async def _off_loop(fn: Callable[[], R]) -> R:
    """`fn()` in a daemon thread, awaited. Unlike `asyncio.to_thread`, whose executor threads
    are joined at exit, a job still running when the Brain stops cannot hold up its exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[R] = loop.create_future()

    def done(result: R) -> None:
        if not future.done():
            future.set_result(result)

    def failed(error: BaseException) -> None:
        if not future.done():
            future.set_exception(error)

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:  # handed to the awaiting task, which decides
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                loop.call_soon_threadsafe(failed, exc)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(done, result)

    threading.Thread(target=run, name="slt-live-retrain", daemon=True).start()
    return await future
