"""When the live learner starts a retrain (`RetrainTrigger`, pure): after N closed trades, or
once the champion is older than the maximum model age by the Brain's clock, never before; after
any job the age trigger waits one more age period and the trade count starts again."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from slt.domain.candle import DAY_MS
from slt.live.learning_trigger import RetrainTrigger

T0 = 1_750_000_000_000
times = st.integers(T0 - 400 * DAY_MS, T0 + 400 * DAY_MS)
ages = st.integers(60_000, 30 * DAY_MS)
every = st.integers(1, 200)


def started(
    every_trades: int, age_ms: int, start_ms: int, created_ms: int | None
) -> RetrainTrigger:
    trigger = RetrainTrigger(every_trades, age_ms)
    trigger.observe(start_ms)
    trigger.champion_created(created_ms)
    return trigger


@given(every, ages, times, st.integers(0, 400 * DAY_MS), st.integers(0, 60 * DAY_MS))
def test_the_age_trigger_fires_once_the_champion_is_old_enough_and_not_before(
    n: int, age: int, start: int, older: int, later: int
) -> None:
    created = start - older  # made before the learner started (live)
    trigger = started(n, age, start, created)
    due = created + age
    assert trigger.due_ms() == due
    now = max(start, due - 1 - later)
    if now < due:
        assert trigger.reason(now) is None
    assert trigger.reason(max(start, due)) == "age"
    assert trigger.reason(max(start, due) + later) == "age"


@given(every, ages, times, st.integers(1, 400 * DAY_MS))
def test_a_champion_made_after_the_start_by_the_brains_clock_ages_from_the_start(
    n: int, age: int, start: int, younger: int
) -> None:
    """A replay of past candles with a model registered today: its record is in the replay's
    future, so its age counts from the replay's start."""
    trigger = started(n, age, start, start + younger)
    assert trigger.due_ms() == start + age
    assert trigger.reason(start + age - 1) is None
    assert trigger.reason(start + age) == "age"


@given(every, ages, times)
def test_without_a_champion_record_the_age_counts_from_the_start(
    n: int, age: int, start: int
) -> None:
    for trigger in (started(n, age, start, None), RetrainTrigger(n, age)):
        trigger.observe(start)
        trigger.observe(start + DAY_MS)  # only the first reading is the start
        assert trigger.due_ms() == start + age


def test_nothing_is_due_before_the_clock_was_read() -> None:
    trigger = RetrainTrigger(50, 7 * DAY_MS)
    trigger.champion_created(T0)  # read before any clock reading: ignored
    assert trigger.due_ms() is None and trigger.reason(T0 + 100 * DAY_MS) is None


@given(every, ages, times, st.integers(0, 400 * DAY_MS), st.integers(0, 400 * DAY_MS))
def test_after_a_job_the_age_trigger_waits_one_more_age_period(
    n: int, age: int, start: int, older: int, after: int
) -> None:
    """Whatever the job's outcome (a failure included), the next age-triggered job starts one
    age period after it did, and the trades count from zero: no retry at every candle."""
    trigger = started(n, age, start, start - older)
    job = max(start, trigger.due_ms() or 0) + after
    assert trigger.reason(job) == "age"
    trigger.job_started(job)
    assert trigger.closed == 0 and trigger.due_ms() == job + age
    assert trigger.reason(job) is None
    assert trigger.reason(job + age - 1) is None
    assert trigger.reason(job + age) == "age"


@given(every, ages, times, st.integers(0, 30 * DAY_MS))
def test_a_promotion_restarts_the_age_from_its_retrain(
    n: int, age: int, start: int, after: int
) -> None:
    trigger = started(n, age, start, start - 100 * DAY_MS)
    job = start + after
    trigger.job_started(job)
    trigger.promoted(job)
    trigger.champion_created(start - 100 * DAY_MS)  # a late record read does not undo it
    assert trigger.since_ms() == job and trigger.due_ms() == job + age


@given(every, times, st.integers(0, 500))
def test_the_trade_trigger_counts_closed_trades_since_the_last_job(
    n: int, start: int, extra: int
) -> None:
    trigger = started(n, 7 * DAY_MS, start, start)
    for _ in range(n - 1):
        trigger.trade_closed()
    assert trigger.reason(start) is None
    for _ in range(1 + extra):  # trades closing while a job runs keep counting
        trigger.trade_closed()
    assert trigger.reason(start) == "trades"
    assert trigger.job_started(start) == n + extra
    assert trigger.reason(start) is None


def test_the_reason_in_words() -> None:
    trigger = started(50, 7 * DAY_MS, T0, T0 - 3 * DAY_MS)
    assert trigger.describe("trades", T0, 50) == "after 50 closed trades"
    text = trigger.describe("age", T0 + 4 * DAY_MS, 3)
    assert text == (
        "because the champion is 7.0 days old (model.max_model_age_days 7), "
        "3 closed trades since the last retrain"
    )
    trigger.job_started(T0 + 4 * DAY_MS)
    text = trigger.describe("age", T0 + 11 * DAY_MS, 0)
    assert text.endswith("0 closed trades since the last retrain 7.0 days ago")
    assert "champion is 14.0 days old" in text


def test_of_days() -> None:
    assert RetrainTrigger.of_days(50, 0.5).max_age_ms == DAY_MS // 2
