"""Learning from live trades: the 50th closed trade starts one retraining job (never two at
once, never the 49th), training runs in a child process while the event loop keeps going, and
the challenger replaces the champion only through the holdout-IC gate and its checks.

Real candles (the bundled sample, last four days of two symbols) are stored in a SQLite
database the training child reads itself; models are tiny (three days, 30 trees). Champions
are made to order so the gate's answer is known: one fitted in sample on the negated target
(its holdout IC is far below zero, any honest challenger beats it), one fitted in sample on the
target (its holdout IC is far above what an out-of-sample challenger reaches).
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import xgboost as xgb

from slt.config import Settings, load_settings
from slt.domain import CandleSeries, Side
from slt.domain.candle import DAY_MS
from slt.live.learning import LiveLearner
from slt.model.dataset import build_dataset
from slt.model.features import FeatureSpec, default_feature_spec
from slt.model.labels import LabelParams
from slt.model.registry import ModelStatus
from slt.model.service import get_model, list_models
from slt.rules import bundled_rules
from slt.storage import TradingStore, create_engine
from slt.storage.trading_ops import OutcomeOp, TradeOp, experience_of

from .learning_world import LOGGER, SYMBOLS, a_trade, register_champion, sample_tail, store_candles

CREATED = 1_700_000_000_000
"""When the champions made to order were registered."""
MODEL = {
    "horizon_bars": 30,
    "train_window_days": 3,
    "walk_forward_folds": 0,
    "memory_limit_mb": 2048,
    "timeout_s": 120,
    "xgb": {"num_boost_round": 30, "early_stopping_rounds": 10, "nthread": 1},
}


@pytest.fixture(scope="module")
def candles() -> dict[str, CandleSeries]:
    return sample_tail(days=4)


def now_of(candles: dict[str, CandleSeries]) -> int:
    return max(int(s.open_time[-1]) for s in candles.values()) + 60_000


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    return load_settings(data_dir=tmp_path, model=MODEL, **overrides)


async def store_experience(settings: Settings, now_ms: int) -> int:
    """Twenty closed trades of a run in the window, plus rows the buffer must leave out (a
    trade of another schema width, an entry without a stored trade); returns 20."""
    rng = np.random.default_rng(3)
    engine = create_engine(settings.effective_database_url)
    start = now_ms - 3 * DAY_MS
    try:
        store = TradingStore(engine)
        await store.start_run("r1", "sim", start)
        for i in range(22):
            symbol = SYMBOLS[i % 2]
            entry = start + (i + 1) * 3 * 3_600_000 + 1_234
            side = Side.LONG if i % 3 else Side.SHORT
            ret = float(rng.normal(0, 0.004))
            width = 11 if i == 20 else 12
            features = [float(v) for v in rng.normal(size=width)]
            await store.apply(experience_of("r1", symbol, entry, "m-any", features, 0.001))
            await store.apply(OutcomeOp("r1", symbol, entry, ret, "time_exit", entry + 1_800_000))
            if i == 21:
                continue  # an outcome without its trade: the side is unknown
            one = Decimal(1)
            await store.apply(
                TradeOp(
                    "r1", symbol, side.name, entry, entry + 1_800_000, one, one, one, 1,
                    one, one, one, one, ret, "time_exit",
                )
            )  # fmt: skip
    finally:
        await engine.dispose()
    return 20


def in_sample_model(settings: Settings, candles: dict[str, CandleSeries], spec: FeatureSpec,
                    sign: float) -> bytes:  # fmt: skip
    """A model fitted on every row of the training window, holdout included, on `sign` × the
    target: its holdout IC is strongly positive (sign 1) or strongly negative (sign −1)."""
    cfg = settings.model
    labels = LabelParams.from_config(settings.risk, settings.fees, cfg.horizon_bars)
    since = now_of(candles) - cfg.train_window_days * DAY_MS
    ds = build_dataset(list(candles.values()), spec, labels, since_ms=since)
    matrix = xgb.DMatrix(ds.x, label=sign * ds.y, missing=np.nan, nthread=1)
    params = {"max_depth": 8, "eta": 0.3, "nthread": 1, "seed": 1, "verbosity": 0}
    return bytes(xgb.train(params, matrix, num_boost_round=80).save_raw("ubj"))


async def champion_id(settings: Settings) -> str | None:
    champions = await list_models(settings, ModelStatus.CHAMPION)
    return champions[0].model_id if champions else None


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == level]


class Ticker:
    """Counts event-loop turns every 10 ms: it stalls if anything blocks the loop."""

    def __init__(self) -> None:
        self.ticks = 0
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    def stop(self) -> None:
        self.task.cancel()


async def test_every_fiftieth_trade_starts_one_job_and_a_failure_keeps_the_champion(
    tmp_path: Path,
    candles: dict[str, CandleSeries],
    jobs: ModuleType,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings = make_settings(tmp_path)
    spec = default_feature_spec()
    champion = await register_champion(
        settings, in_sample_model(settings, candles, spec, 1), CREATED
    )
    now = now_of(candles)
    trade = a_trade(now)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml", job=jobs.fail_slowly)
    assert learner.active and settings.model.retrain_every_trades == 50

    for _ in range(49):
        learner.on_trade_closed(trade, now)
    assert learner.jobs_started == 0 and not learner.running
    ticker = Ticker()
    learner.on_trade_closed(trade, now)
    assert learner.jobs_started == 1 and learner.running
    for _ in range(120):  # more than two triggers' worth while the job runs
        learner.on_trade_closed(trade, now)
        await asyncio.sleep(0)
    assert learner.jobs_started == 1
    await learner.wait()
    ticker.stop()
    # the job took ≥ 1.5 s in its child; a blocked loop would not have ticked meanwhile
    assert ticker.ticks > 50
    assert not learner.running and learner.poll() is None
    (warning,) = messages(caplog, logging.WARNING)
    assert f"champion {champion} trades on" in warning
    assert "ValueError: the job broke on purpose" in warning
    assert await champion_id(settings) == champion

    # the trades closed while it ran were counted: the next one starts the next job
    learner.on_trade_closed(trade, now)
    assert learner.jobs_started == 2
    await learner.aclose()
    assert not learner.running


async def test_a_better_challenger_is_promoted_and_handed_over_once(
    tmp_path: Path, candles: dict[str, CandleSeries], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings = make_settings(tmp_path)
    await store_candles(settings, candles)
    now = now_of(candles)
    live_rows = await store_experience(settings, now)
    spec = default_feature_spec()
    old = await register_champion(settings, in_sample_model(settings, candles, spec, -1), CREATED)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml", rules=bundled_rules())

    ticker = Ticker()
    for _ in range(50):
        learner.on_trade_closed(a_trade(now), now)
    assert learner.running
    await learner.wait()
    ticker.stop()
    assert ticker.ticks > 20  # the training (seconds) never held the loop

    predictor = learner.poll()
    assert predictor is not None and predictor.model_id != old
    assert learner.poll() is None
    assert await champion_id(settings) == predictor.model_id
    assert (await get_model(settings, old)).status is ModelStatus.RETIRED
    record = await get_model(settings, predictor.model_id)
    assert record.parent_id == old and record.checks is not None and record.checks["passed"]
    metrics = record.metrics["live_retrain"]
    assert metrics["challenger_ic"] > metrics["champion_ic"]
    assert metrics["experience_trades"] == live_rows
    assert messages(caplog, logging.WARNING) == []
    (line,) = [m for m in messages(caplog, logging.INFO) if "promoted" in m]
    assert f"promoted {predictor.model_id} over {old}" in line
    assert f"({live_rows} from live trades)" in line
    assert "holdout IC +" in line and "checks passed: ic_alarm" in line


async def test_a_worse_challenger_is_registered_but_the_champion_stays(
    tmp_path: Path, candles: dict[str, CandleSeries], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings = make_settings(tmp_path)
    await store_candles(settings, candles)
    spec = default_feature_spec()
    champion = await register_champion(
        settings, in_sample_model(settings, candles, spec, 1), CREATED
    )
    now = now_of(candles)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml")
    for _ in range(50):
        learner.on_trade_closed(a_trade(now), now)
    await learner.wait()

    assert learner.poll() is None
    assert await champion_id(settings) == champion
    candidates = await list_models(settings, ModelStatus.CANDIDATE)
    assert len(candidates) == 1 and candidates[0].parent_id == champion
    (line,) = [m for m in messages(caplog, logging.INFO) if "kept champion" in m]
    assert f"kept champion {champion} over challenger {candidates[0].model_id}" in line
    assert "kept the champion" in line  # the verdict's reason: a lower holdout IC
    assert messages(caplog, logging.WARNING) == []


async def test_a_leaking_challenger_is_blocked_by_its_checks(
    tmp_path: Path,
    candles: dict[str, CandleSeries],
    jobs: ModuleType,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings = make_settings(tmp_path)
    await store_candles(settings, candles)
    real = default_feature_spec()
    leaky = FeatureSpec(real.names, 0, "peeking-" + "0" * 56, jobs.peeking_features)
    weak = in_sample_model(settings, candles, leaky, -1)
    champion = await register_champion(settings, weak, CREATED, leaky)
    now = now_of(candles)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml", features=leaky)
    for _ in range(50):
        learner.on_trade_closed(a_trade(now), now)
    await learner.wait()

    assert learner.poll() is None
    assert await champion_id(settings) == champion
    (line,) = [m for m in messages(caplog, logging.INFO) if "kept champion" in m]
    assert "challenger blocked by its checks (ic_alarm failed" in line
    (candidate,) = await list_models(settings, ModelStatus.CANDIDATE)
    assert candidate.checks is not None and not candidate.checks["passed"]


async def test_a_job_without_data_fails_with_a_warning(
    tmp_path: Path, candles: dict[str, CandleSeries], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings = make_settings(tmp_path)
    spec = default_feature_spec()
    champion = await register_champion(
        settings, in_sample_model(settings, candles, spec, 1), CREATED
    )
    now = now_of(candles)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml")
    for _ in range(50):
        learner.on_trade_closed(a_trade(now), now)
    await learner.wait()
    (warning,) = messages(caplog, logging.WARNING)
    assert f"champion {champion} trades on" in warning and "no stored 1m candles" in warning
    assert learner.poll() is None and await champion_id(settings) == champion


@pytest.mark.parametrize("how", ["env", "baseline"])
async def test_switched_off_nothing_starts_and_it_says_why_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    if how == "env":
        monkeypatch.setenv("DISABLE_MODEL_TRAINING", "1")
    settings = make_settings(tmp_path)
    strategy = "ml" if how == "env" else "baseline"
    learner = LiveLearner(settings, SYMBOLS, strategy=strategy)
    for _ in range(200):
        learner.on_trade_closed(a_trade(1_750_000_000_000), 1_750_000_000_000)
    assert not learner.active and learner.jobs_started == 0 and not learner.running
    assert learner.poll() is None
    (line,) = messages(caplog, logging.INFO)
    reason = "DISABLE_MODEL_TRAINING" if how == "env" else "baseline strategy has no model"
    assert line.startswith("live training is off") and reason in line
