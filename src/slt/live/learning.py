"""Learning from live trades: every N closed trades, or when the champion is old, retrain off the
Brain's loop and keep the better model.

The Brain owns one `LiveLearner` and calls it from its event loop:

* `on_trade_closed(trade, now_ms)` after each closed trade. Every `retrain_every_trades` trades
  (50 by default) it starts one retraining job in the background and returns at once. While a
  job runs no second one starts; the trades closing meanwhile keep counting, so the next trade
  after the job ends starts another if enough have closed. `now_ms` is the Brain's clock (the
  market's time in a replay): the job uses only candles closed and outcomes known by then.
* `poll(now_ms)` each candle: after a promotion it returns the new champion's `Predictor`
  exactly once, else None. The Brain swaps it into its `MLStrategy` in place
  (`strategy.model = predictor`): the per-symbol feature states stay warm, only the model
  scoring them changes, and signals name the new model from the next candle on. With `now_ms`
  it also starts a job when the champion is older than `max_model_age_days` by that clock,
  so a bot that trades rarely does not keep a stale model forever. When jobs start, the
  champion's age and the back-off after a job are `slt.live.learning_trigger`'s rule; each
  start is one INFO line saying why (trades or age).

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
import time
from collections.abc import Callable, Sequence

from slt.config import Settings
from slt.domain import TradeRecord
from slt.live.learning_job import (
    LearningJob,
    LearningOutcome,
    challenger_record,
    run_learning_job,
)
from slt.live.learning_trigger import RetrainTrigger, Trigger
from slt.live.off_loop import off_loop
from slt.model.errors import ModelError
from slt.model.features import FeatureSpec, default_feature_spec
from slt.model.labels import LabelParams
from slt.model.predictor import Predictor
from slt.model.registry import ModelRecord
from slt.model.service import (
    load_predictor,
    open_registry,
    promote_model,
    tick_sizes,
)
from slt.model.worker import MIB, Report, run_isolated
from slt.rules import ExchangeRules, bundled_rules

log = logging.getLogger("slt.brain.learning")

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
        self._trigger = RetrainTrigger.of_days(
            self.cfg.retrain_every_trades, self.cfg.max_model_age_days
        )
        self._task: asyncio.Task[None] | None = None
        self._lookup: asyncio.Task[None] | None = None
        self._pending: Predictor | None = None
        self.jobs_started = 0
        self.reason_off = self._reason_off(strategy)
        self.active = self.reason_off is None
        if self.reason_off is not None:
            log.info("live training is off: %s", self.reason_off)
        else:
            log.info(
                "live training is on: a challenger is trained every %d closed trades, or when "
                "the champion is %g days old, on %d symbols (%d days of %s candles plus the "
                "experience buffer)",
                self.cfg.retrain_every_trades,
                self.cfg.max_model_age_days,
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
        self._observe(now_ms)
        self._trigger.trade_closed()
        if self.running and self._trigger.closed >= self.cfg.retrain_every_trades:
            log.debug("%d trades closed; a retrain is still running", self._trigger.closed)
        self._consider(now_ms)

    def poll(self, now_ms: int | None = None) -> Predictor | None:
        """The champion promoted since the last call, once; None when nothing changed.

        `now_ms`, the Brain's clock, also starts a job when one is due (the champion's age, or
        trades that closed while the last job ran) and none runs. Call from the event loop."""
        if now_ms is not None and self.active:
            self._observe(now_ms)
            self._consider(now_ms)
        promoted, self._pending = self._pending, None
        return promoted

    @property
    def due_ms(self) -> int | None:
        """When the champion's age starts the next job by the Brain's clock (None: not yet
        known, or learning is off)."""
        return self._trigger.due_ms() if self.active else None

    async def wait(self) -> None:
        """Wait for the champion's age to be read and the running job, if any (tests; a Brain
        never needs to)."""
        if self._lookup is not None:
            await asyncio.shield(self._lookup)
        if self._task is not None:
            await asyncio.shield(self._task)

    async def aclose(self) -> None:
        """Stop waiting for a running job (its outcome is dropped). The child process and its
        thread are daemons: they end with the job, or with the Brain's process."""
        for task in (self._lookup, self._task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = None

    # --- when a job starts ---------------------------------------------------------------
    def _observe(self, now_ms: int) -> None:
        """A reading of the Brain's clock (0 before its first candle in a replay: ignored).
        The first starts reading the champion's record, whose creation time dates it."""
        if now_ms <= 0:
            return
        self._trigger.observe(now_ms)
        if self._lookup is None:
            self._lookup = asyncio.get_running_loop().create_task(
                self._read_champion(), name="slt-live-champion"
            )

    def _consider(self, now_ms: int) -> None:
        """Start a job when one is due, none runs, and the clock is known (a job's window ends
        at its `now_ms`)."""
        if self.running or now_ms <= 0:
            return
        trigger = self._trigger.reason(now_ms)
        if trigger is None:
            return
        why = self._trigger.describe(trigger, now_ms, self._trigger.closed)
        self._trigger.job_started(now_ms)
        self.jobs_started += 1
        self._task = asyncio.get_running_loop().create_task(
            self._retrain(now_ms, trigger, why), name="slt-live-retrain"
        )

    async def _read_champion(self) -> None:
        """Date the champion from its registry record; without one (or the registry out of
        reach) its age counts from the learner's start."""
        created: int | None = None
        try:
            async with open_registry(self.settings) as registry:
                record = await registry.champion()
            created = None if record is None else record.created_ms
        except Exception as exc:  # the Brain trades on; the age just counts from now
            log.warning(
                "live training: the champion's age is unknown (%s: %s); it counts from now",
                type(exc).__name__,
                exc,
            )
        self._trigger.champion_created(created)

    # --- the background job --------------------------------------------------------------
    async def _retrain(self, now_ms: int, trigger: Trigger, why: str) -> None:
        champion_id = "(none)"
        try:
            if self._lookup is not None:  # one registry at a time: migrating it is not reentrant
                await asyncio.shield(self._lookup)
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
            log.info("live retrain started %s (%s): challenging %s", why, trigger, champion_id)
            started = time.monotonic()
            outcome = await off_loop(lambda: self._run(job), name="slt-live-retrain")
            await self._decide(outcome, champion, time.monotonic() - started, now_ms)
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
            if stage == "trim":  # from the job's process, while it runs
                log.info(
                    "live retrain: %d rows of the oldest candles left out so the data fits the "
                    "trainer's memory (model.memory_limit_mb %d: about %d rows)",
                    done,
                    self.cfg.memory_limit_mb,
                    total,
                )
                return
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

    async def _decide(
        self, outcome: LearningOutcome, champion: ModelRecord, took: float, now_ms: int
    ) -> None:
        """Register the challenger with its checks; promote it when the verdict says so and
        the champion it was judged against is still the champion."""
        verdict = outcome.verdict
        metrics = verdict.metrics(outcome.experience_rows)
        now = int(time.time() * 1000)
        async with open_registry(self.settings) as registry:
            draft = challenger_record(
                outcome,
                champion.model_id,
                self._spec(),
                self.interval,
                self.cfg,
                LabelParams.from_config(
                    self.settings.risk, self.settings.fees, self.cfg.horizon_bars
                ),
                metrics,
            )
            record = await registry.register(draft, outcome.model)
            await registry.record_checks(
                record.model_id, {**verdict.report.to_dict(), "checked_ms": now}
            )
            current = await registry.champion()
        facts = (
            f"{outcome.rows} rows ({outcome.experience_rows} from live trades), "
            f"{verdict.holdout_rows} holdout rows, {took:.0f} s"
        )
        if outcome.dropped_rows:
            facts += f", {outcome.dropped_rows} older rows left out to fit the memory cap"
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
        self._trigger.promoted(now_ms)
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

    def _spec(self) -> FeatureSpec:
        if self._features is None:
            self._features = default_feature_spec()
        return self._features

    def _known_rules(self) -> ExchangeRules:
        if self._rules is None:
            self._rules = bundled_rules()
        return self._rules
