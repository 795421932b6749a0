"""The Orchestrator's rules with plain values: backoff, the restart budget, health."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slt.runtime.heartbeat import Beat, Phase
from slt.runtime.supervisor import (
    Health,
    SupervisorPolicy,
    after_failure,
    backoff_ms,
    describe_exit,
    health,
    recent,
)

policies = st.builds(
    SupervisorPolicy,
    backoff_base_s=st.floats(0, 10),
    backoff_max_s=st.floats(0.01, 600),
    jitter=st.floats(0, 0.99),
    max_restarts=st.integers(0, 10),
    budget_window_s=st.floats(1, 3600),
)
draws = st.floats(0, 1, exclude_max=True)


@given(policies, st.integers(0, 100), draws)
def test_backoff_is_the_capped_doubling_within_the_jitter(
    policy: SupervisorPolicy, n: int, u: float
) -> None:
    raw_ms = min(policy.backoff_max_s, policy.backoff_base_s * 2.0**n) * 1000
    delay = backoff_ms(policy, n, u)
    assert raw_ms * (1 - policy.jitter) - 1 <= delay <= raw_ms * (1 + policy.jitter) + 1
    assert delay <= policy.backoff_max_s * (1 + policy.jitter) * 1000 + 1


@given(policies, st.integers(0, 100), draws)
def test_backoff_never_shrinks_as_restarts_pile_up(
    policy: SupervisorPolicy, n: int, u: float
) -> None:
    assert backoff_ms(policy, n, u) <= backoff_ms(policy, n + 1, u)


def test_backoff_without_jitter_doubles_from_the_base_to_the_cap() -> None:
    policy = SupervisorPolicy(backoff_base_s=0.5, backoff_max_s=3, jitter=0)
    assert [backoff_ms(policy, n, 0.7) for n in range(5)] == [500, 1000, 2000, 3000, 3000]


@given(policies, st.lists(st.integers(0, 10**7), max_size=60), st.lists(draws, min_size=1))
def test_the_budget_allows_at_most_max_restarts_per_window_and_no_fewer(
    policy: SupervisorPolicy, gaps: list[int], us: list[float]
) -> None:
    """Feed failures one after another: every restart allowed leaves at most `max_restarts`
    restarts in the window ending at it, and a refusal comes only when the window already
    holds `max_restarts` of them (the budget is really spent, not guessed)."""
    window_ms = int(policy.budget_window_s * 1000)
    history: tuple[int, ...] = ()
    allowed: list[int] = []
    now = 1_700_000_000_000
    for i, gap in enumerate(gaps):
        now += gap
        decision = after_failure(policy, history, now, us[i % len(us)])
        in_window = [t for t in allowed if t > now - window_ms]
        if decision.give_up:
            assert len(in_window) >= policy.max_restarts
            break
        assert len(in_window) < policy.max_restarts
        allowed.append(now)
        history = decision.history
        assert decision.restarts_in_window <= policy.max_restarts
        assert decision.delay_ms >= 0


@given(st.lists(st.integers(0, 10**9), max_size=20), st.integers(0, 2 * 10**9))
def test_recent_keeps_only_the_window(history: list[int], now: int) -> None:
    kept = recent(tuple(history), now, 60)
    assert all(now - 60_000 < t for t in kept)
    assert len([t for t in history if t > now - 60_000]) == len(kept)


def test_restarts_spaced_wider_than_the_window_always_wait_the_base() -> None:
    policy = SupervisorPolicy(backoff_base_s=1, jitter=0, max_restarts=2, budget_window_s=60)
    history: tuple[int, ...] = ()
    for k in range(10):
        decision = after_failure(policy, history, k * 61_000, 0.5)
        assert not decision.give_up and decision.delay_ms == 1000
        history = decision.history


def test_a_budget_of_zero_gives_up_at_the_first_failure() -> None:
    decision = after_failure(SupervisorPolicy(max_restarts=0), (), 5, 0.5)
    assert decision.give_up


@pytest.mark.parametrize(
    "kwargs",
    [
        {"poll_s": 0},
        {"jitter": 1.0},
        {"max_restarts": -1},
        {"feed_stop_s": -1},
        {"stuck_after_s": 0},
    ],
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SupervisorPolicy(**kwargs)  # type: ignore[arg-type]


def test_default_shutdown_fits_a_platforms_ten_seconds() -> None:
    policy = SupervisorPolicy()
    assert policy.shutdown_bound_s < 10
    assert policy.stop_grace_s("feed") == policy.feed_stop_s
    assert policy.stop_grace_s("brain") == policy.brain_stop_s


# --- health ---------------------------------------------------------------------------------------
POLICY = SupervisorPolicy(start_grace_s=120, stuck_after_s=30)
T0 = 1_700_000_000_000


def beat(pid: int = 42, beats: int = 3, beat_ms: int = T0 + 5_000) -> Beat:
    return Beat("feed", pid, T0, beat_ms if beats else 0, beats, Phase.RUNNING, {})


def check(now: int, b: Beat, exitcode: int | None = None) -> Health:
    return health(POLICY, pid=42, exitcode=exitcode, started_ms=T0, beat=b, now_ms=now)[0]


def test_an_exit_code_is_dead_whatever_the_board_says() -> None:
    assert check(T0 + 6_000, beat(), exitcode=0) is Health.DEAD
    assert health(POLICY, pid=42, exitcode=-9, started_ms=T0, beat=beat(), now_ms=T0)[1] == (
        "killed by SIGKILL"
    )


def test_before_the_first_beat_the_start_grace_applies() -> None:
    assert check(T0 + 119_000, beat(beats=0)) is Health.STARTING
    assert check(T0 + 121_000, beat(beats=0)) is Health.STUCK
    # a slot still holding the previous process's pid is not this process's beat
    assert check(T0 + 60_000, beat(pid=41)) is Health.STARTING


def test_after_the_first_beat_an_old_beat_is_stuck() -> None:
    assert check(T0 + 5_000 + 30_000, beat()) is Health.OK
    assert check(T0 + 5_000 + 30_001, beat()) is Health.STUCK


def test_exit_descriptions() -> None:
    assert describe_exit(0) == "exited with code 0"
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-15) == "killed by SIGTERM"
