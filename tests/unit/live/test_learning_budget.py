"""The live retrain bounds its training data to the trainer's memory: the window is planned
before any candle is loaded, and when every symbol's window would not fit, the oldest bars of
all symbols are dropped together. The most recent bars (the holdout among them) are always
kept, the count is exact, and a window under a day is refused with what to raise."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from hypothesis import given
from hypothesis import strategies as st

from slt.config import Settings, load_settings
from slt.domain import CandleSeries
from slt.domain.candle import DAY_MS
from slt.live.learning_budget import (
    MIN_WINDOW_MS,
    RESERVED_MIB,
    WindowPlan,
    budget_bytes,
    bytes_per_row,
    plan_window,
)
from slt.live.learning_job import LearningJob, LearningOutcome, run_learning_job
from slt.model.dataset import build_dataset
from slt.model.errors import TrainingError
from slt.model.features import default_feature_spec
from slt.model.labels import LabelParams
from slt.model.worker import MIB

from .learning_world import SYMBOLS, sample_tail, store_candles

MINUTE = 60_000
T0 = 1_750_000_000_000 // MINUTE * MINUTE
MODEL = {
    "horizon_bars": 30,
    "train_window_days": 3,
    "walk_forward_folds": 0,
    "xgb": {"num_boost_round": 20, "early_stopping_rounds": 5, "nthread": 1},
}
WARMUP = 300


def plan(**kw: int) -> WindowPlan:
    args = {"now_ms": T0, "step_ms": MINUTE, "window_days": 10, "symbols": 3, "warmup_bars": 0,
            "row_bytes": 100, "budget": 10**12} | kw  # fmt: skip
    return plan_window(**args)


def test_the_budget_comes_from_the_trainers_cap() -> None:
    assert bytes_per_row(13) == 13 * 8 * 6
    assert budget_bytes(4096) == (4096 - RESERVED_MIB) * MIB
    assert budget_bytes(512) == 0


def test_a_window_that_fits_is_left_whole() -> None:
    p = plan()
    assert not p.cut and p.since_ms == p.window_start_ms == T0 - 10 * DAY_MS
    assert p.bars_per_symbol == 10 * 1440 and p.planned_rows == 2 * 3 * 10 * 1440


def test_under_a_small_budget_the_most_recent_bars_are_kept_exactly() -> None:
    """3 symbols, no warm-up, a budget of 12,000 rows: 2,000 bars each, the last of them the
    one that closed at `now`."""
    p = plan(budget=12_000 * 100)
    assert p.cut and p.max_rows == 12_000 and p.bars_per_symbol == 2_000
    assert p.since_ms == T0 - 2_000 * MINUTE and p.planned_rows == 12_000
    with_warmup = plan(budget=12_000 * 100, warmup_bars=500)
    assert with_warmup.bars_per_symbol == 1_500 and with_warmup.since_ms == T0 - 1_500 * MINUTE


@given(
    now=st.integers(T0, T0 + 30 * DAY_MS),
    step=st.sampled_from([MINUTE, 5 * MINUTE, 3_600_000]),
    days=st.integers(1, 90),
    symbols=st.integers(1, 400),
    warmup=st.integers(0, 2_000),
    row_bytes=st.integers(1, 2_000),
    budget=st.integers(0, 64 * 1024 * MIB),
)
def test_the_plan_fits_its_budget_keeps_the_newest_bars_and_drops_no_more_than_needed(
    now: int, step: int, days: int, symbols: int, warmup: int, row_bytes: int, budget: int
) -> None:
    kw = {"now_ms": now, "step_ms": step, "window_days": days, "symbols": symbols,
          "warmup_bars": warmup, "row_bytes": row_bytes, "budget": budget}  # fmt: skip
    last_open = (now - step) // step * step  # the last bar closed by now
    try:
        p = plan_window(**kw)
    except TrainingError as exc:
        assert "raise model.memory_limit_mb" in str(exc)
        bars_in_a_day = min(-(-MIN_WINDOW_MS // step), days * DAY_MS // step)
        assert 2 * symbols * (bars_in_a_day + warmup) * row_bytes > budget
        return
    assert p.max_rows == budget // row_bytes
    assert p.window_start_ms <= p.since_ms <= last_open and p.since_ms % step == 0
    assert p.window_start_ms >= now - days * DAY_MS > p.window_start_ms - step
    assert p.bars_per_symbol == (last_open - p.since_ms) // step + 1
    assert p.planned_rows == 2 * symbols * (p.bars_per_symbol + warmup)
    if p.cut:
        assert p.planned_rows <= p.max_rows  # it fits
        assert p.planned_rows + 2 * symbols > p.max_rows  # one more bar would not
        assert p.since_ms + MIN_WINDOW_MS <= last_open + step or days * DAY_MS < MIN_WINDOW_MS
    else:
        assert p.since_ms == p.window_start_ms


def test_less_than_a_day_of_candles_is_refused_with_what_to_raise() -> None:
    with pytest.raises(TrainingError, match=r"raise model\.memory_limit_mb to at least"):
        plan(budget=2 * 3 * 1439 * 100)


# --- the job under a budget, on real candles -----------------------------------------------


@pytest.fixture(scope="module")
def candles() -> dict[str, CandleSeries]:
    return sample_tail(days=4)


def stored(tmp_path: Path, candles: dict[str, CandleSeries]) -> Settings:
    settings = load_settings(data_dir=tmp_path, model=MODEL)
    asyncio.run(store_candles(settings, candles))
    return settings


def a_model() -> bytes:
    rng = np.random.default_rng(1)
    data = xgb.DMatrix(rng.normal(size=(500, 13)), label=rng.normal(size=500), nthread=1)
    params = {"max_depth": 2, "nthread": 1, "seed": 1, "verbosity": 0}
    return bytes(xgb.train(params, data, num_boost_round=5).save_raw("ubj"))


def test_the_job_trains_on_the_most_recent_rows_that_fit(
    tmp_path: Path, candles: dict[str, CandleSeries]
) -> None:
    settings = stored(tmp_path, candles)
    now = max(int(s.open_time[-1]) for s in candles.values()) + MINUTE
    spec = default_feature_spec()
    labels = LabelParams.from_config(settings.risk, settings.fees, settings.model.horizon_bars)
    kept_bars = 2_160  # a day and a half of the three-day window
    budget = 2 * len(SYMBOLS) * (kept_bars + WARMUP) * bytes_per_row(13)

    def run(budget: int | None) -> tuple[LearningJob, LearningOutcome, list[tuple[str, int, int]]]:
        job = LearningJob(
            database_url=settings.effective_database_url, symbols=SYMBOLS, interval="1m",
            now_ms=now, warmup_bars=WARMUP, champion_id="m-old", champion_model=a_model(),
            features=spec, labels=labels, config=settings.model, ticks={}, budget_bytes=budget,
        )  # fmt: skip
        reports: list[tuple[str, int, int]] = []
        outcome = run_learning_job(job, lambda s, d, t: reports.append((s, d, t)))
        return job, outcome, reports

    job, bounded, reports = run(budget)
    p = job.plan()
    assert p.cut and p.bars_per_symbol == kept_bars and p.since_ms == now - kept_bars * MINUTE
    dropped = sum(
        int(((s.open_time >= p.window_start_ms) & (s.open_time < p.since_ms)).sum())
        for s in candles.values()
    )
    assert dropped > 0
    assert ("trim", 2 * dropped, p.max_rows) in reports
    # exactly the rows of the kept window: the same dataset built by hand from its candles
    start = p.since_ms - WARMUP * MINUTE
    kept = [s.slice(int(np.searchsorted(s.open_time, start)), len(s)) for s in candles.values()]
    expected = build_dataset(kept, spec, labels, ticks={}, since_ms=p.since_ms)
    assert bounded.rows == len(expected) and bounded.dropped_rows == 2 * dropped
    assert bounded.first_ms == expected.first_ms >= p.since_ms

    # unbounded, the same most recent rows are there, and the older ones too
    _, whole, whole_reports = run(None)
    assert not any(stage == "trim" for stage, _, _ in whole_reports) and whole.dropped_rows == 0
    assert whole.last_ms == bounded.last_ms
    assert whole.first_ms < p.since_ms and whole.rows > bounded.rows
    # the holdout, the most recent fifth of what was trained on, is made of kept rows
    assert 0 < bounded.verdict.holdout_rows < bounded.rows
