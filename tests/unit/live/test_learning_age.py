"""The live learner's age trigger, through `poll(now_ms)` as the Brain calls it each candle: a
champion older than `max_model_age_days` by the Brain's clock starts a job with no new trades,
not a millisecond before; never a second job while one runs; after a failed job the next one
waits one more age period (or 50 more trades). The jobs are fakes that fail; the one that runs
"long" waits for a file the test creates, so nothing here depends on timing."""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import xgboost as xgb

from slt.config import Settings, load_settings
from slt.domain.candle import DAY_MS
from slt.live.learning import LiveLearner

from .learning_world import LOGGER, SYMBOLS, a_trade, register_champion

CREATED = 1_750_000_000_000
AGE = 7 * DAY_MS  # the default max_model_age_days


def release(tmp_path: Path) -> None:
    (tmp_path / "release").touch()


async def with_champion(tmp_path: Path, created_ms: int = CREATED) -> tuple[Settings, str]:
    settings = load_settings(data_dir=tmp_path, model={"timeout_s": 120})
    rng = np.random.default_rng(1)
    data = xgb.DMatrix(rng.normal(size=(200, 13)), label=rng.normal(size=200), nthread=1)
    model = bytes(xgb.train({"nthread": 1, "verbosity": 0}, data, 3).save_raw("ubj"))
    return settings, await register_champion(settings, model, created_ms)


def started_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == logging.INFO and "retrain started" in r.getMessage()
    ]


async def test_an_old_champion_starts_a_job_without_trades_and_not_before(
    tmp_path: Path, jobs: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings, champion = await with_champion(tmp_path)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml", job=jobs.fail_at_once)
    start = CREATED + 2 * DAY_MS  # the Brain starts two days after the champion was made
    assert learner.poll(start) is None
    await learner.wait()  # the champion's record has been read: it dates the champion
    assert learner.due_ms == CREATED + AGE
    assert learner.poll(CREATED + AGE - 1) is None
    assert learner.jobs_started == 0 and not learner.running
    learner.poll(CREATED + AGE)
    assert learner.jobs_started == 1 and learner.running
    await learner.wait()
    (line,) = started_lines(caplog)
    assert "because the champion is 7.0 days old (model.max_model_age_days 7)" in line
    assert f"(age): challenging {champion}" in line
    await learner.aclose()


async def test_until_the_record_is_read_the_age_counts_from_the_start(
    tmp_path: Path, jobs: ModuleType
) -> None:
    """Before the registry answers, the learner's start stands in: later than the record, so
    never early."""
    settings, _ = await with_champion(tmp_path)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml", job=jobs.fail_at_once)
    start = CREATED + 2 * DAY_MS
    learner.poll(start)
    assert learner.due_ms == start + AGE
    learner.poll(CREATED + AGE)  # old enough by the record, which is not read yet
    assert learner.jobs_started == 0
    await learner.aclose()


async def test_a_champion_from_the_replays_future_ages_from_the_learners_start(
    tmp_path: Path, jobs: ModuleType
) -> None:
    settings, _ = await with_champion(tmp_path)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml", job=jobs.fail_at_once)
    start = CREATED - 100 * DAY_MS  # replaying candles from before the model was made
    learner.poll(start)
    await learner.wait()
    assert learner.due_ms == start + AGE
    learner.poll(start + AGE - 1)
    assert learner.jobs_started == 0
    learner.poll(start + AGE)
    assert learner.jobs_started == 1
    await learner.aclose()


async def test_one_job_at_a_time_and_a_failure_backs_off_one_age_period(
    tmp_path: Path, jobs: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings, champion = await with_champion(tmp_path)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml", job=jobs.fail_when_released)
    learner.poll(CREATED)
    await learner.wait()
    due = CREATED + AGE
    learner.poll(due)
    assert learner.jobs_started == 1 and learner.running
    for k in range(1, 121):  # candles and trades while it runs: more than two triggers' worth
        learner.on_trade_closed(a_trade(due + k), due + k)
        learner.poll(due + k * DAY_MS)
    assert learner.jobs_started == 1 and learner.running
    release(tmp_path)
    await learner.wait()
    assert not learner.running
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"champion {champion} trades on" in w and "on purpose" in w for w in warnings)

    # the 120 trades that closed meanwhile start the next job at the next candle (trades)
    learner.poll(due + 121 * DAY_MS)
    assert learner.jobs_started == 2
    await learner.wait()
    first, second = started_lines(caplog)
    assert "(age)" in first and "after 120 closed trades (trades)" in second

    # after that failure: no age-triggered job for one age period, nor before 50 new trades
    last = due + 121 * DAY_MS
    assert learner.due_ms == last + AGE
    for k in range(49):
        learner.on_trade_closed(a_trade(last + k), last + k)
    learner.poll(last + AGE - 1)
    assert learner.jobs_started == 2
    learner.poll(last + AGE)
    assert learner.jobs_started == 3
    await learner.wait()
    assert "because the champion is" in started_lines(caplog)[-1]
    await learner.aclose()


async def test_a_failed_job_waits_for_fifty_trades_or_the_age(
    tmp_path: Path, jobs: ModuleType
) -> None:
    settings, _ = await with_champion(tmp_path)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml", job=jobs.fail_at_once)
    learner.poll(CREATED)
    await learner.wait()
    learner.poll(CREATED + AGE)
    await learner.wait()
    assert learner.jobs_started == 1
    now = CREATED + AGE
    for k in range(49):
        learner.on_trade_closed(a_trade(now + k), now + k)
        learner.poll(now + k)
    assert learner.jobs_started == 1
    learner.on_trade_closed(a_trade(now + 50), now + 50)
    assert learner.jobs_started == 2
    await learner.aclose()


async def test_switched_off_the_age_starts_nothing(
    tmp_path: Path, jobs: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    await with_champion(tmp_path)
    monkeypatch.setenv("DISABLE_MODEL_TRAINING", "1")
    off = load_settings(data_dir=tmp_path, model={"timeout_s": 120})
    learner = LiveLearner(off, SYMBOLS, strategy="ml", job=jobs.fail_at_once)
    for k in range(3):
        assert learner.poll(CREATED + k * 100 * DAY_MS) is None
    assert learner.jobs_started == 0 and learner.due_ms is None
    await learner.aclose()


async def test_a_clock_not_yet_set_starts_nothing(tmp_path: Path, jobs: ModuleType) -> None:
    """A replay's market clock reads 0 before its first candle: no job, no start."""
    settings, _ = await with_champion(tmp_path)
    learner = LiveLearner(settings, SYMBOLS, strategy="ml", job=jobs.fail_at_once)
    for _ in range(60):
        learner.on_trade_closed(a_trade(CREATED), 0)  # counted, but the clock is unknown
        learner.poll(0)
    assert learner.due_ms is None and learner.jobs_started == 0
    learner.poll(CREATED)
    assert learner.jobs_started == 1  # the trades start it as soon as the clock is known
    await learner.aclose()
