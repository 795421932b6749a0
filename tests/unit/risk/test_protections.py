"""Protections that pause new entries: the daily drawdown halt (until the next UTC day) and the
cooldown after a losing streak."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from slt.config import RiskConfig
from slt.risk.protections import (
    Protections,
    check_drawdown,
    entries_allowed,
    record_trade,
    roll_day,
)

DAY = 86_400_000
T0 = 1_704_067_200_000  # midnight UTC
CFG = RiskConfig(daily_drawdown_halt=0.05, max_consecutive_losses=3, cooldown_ms=3_600_000)


def test_a_new_utc_day_anchors_equity_and_lifts_the_halt() -> None:
    p = roll_day(Protections(), T0 + 5_000, 10_000.0)
    assert (p.day_start_ms, p.day_start_equity, p.halted) == (T0, 10_000.0, False)
    assert roll_day(p, T0 + DAY - 1, 1.0) is p  # same day: unchanged, equity not re-anchored
    halted = check_drawdown(CFG, p, 9_500.0)
    assert halted.halted and not entries_allowed(halted, T0 + DAY - 1)
    next_day = roll_day(halted, T0 + DAY, 9_400.0)
    assert not next_day.halted and next_day.day_start_equity == 9_400.0
    assert entries_allowed(next_day, T0 + DAY)


def test_drawdown_halt_threshold_is_inclusive() -> None:
    p = roll_day(Protections(), T0, 10_000.0)
    assert not check_drawdown(CFG, p, 9_500.01).halted
    assert check_drawdown(CFG, p, 9_500.0).halted
    # a recovery later the same day does not lift the halt
    assert check_drawdown(CFG, check_drawdown(CFG, p, 9_000.0), 11_000.0).halted


@settings(max_examples=100, deadline=None)
@given(
    start=st.floats(min_value=1.0, max_value=1e7),
    path=st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=1, max_size=30),
    limit=st.floats(min_value=0.01, max_value=0.5),
)
def test_halt_iff_equity_fell_by_the_limit_during_the_day(
    start: float, path: list[float], limit: float
) -> None:
    cfg = RiskConfig(daily_drawdown_halt=limit)
    p = roll_day(Protections(), T0, start)
    for i, factor in enumerate(path):
        p = check_drawdown(cfg, roll_day(p, T0 + i, start * factor), start * factor)
    worst = min(path)
    assert p.halted == ((start - start * worst) / start >= limit)


def test_cooldown_after_the_configured_losing_streak() -> None:
    p = Protections()
    p = record_trade(CFG, p, -1.0, T0)
    p = record_trade(CFG, p, -1.0, T0 + 1)
    assert p.consecutive_losses == 2 and entries_allowed(p, T0 + 2)
    p = record_trade(CFG, p, 0.0, T0 + 2)  # a scratch counts as a loss
    assert p.cooldown_until_ms == T0 + 2 + 3_600_000
    assert p.consecutive_losses == 0
    assert not entries_allowed(p, T0 + 3_600_001)
    assert entries_allowed(p, T0 + 2 + 3_600_000)


def test_a_win_resets_the_streak() -> None:
    p = record_trade(CFG, record_trade(CFG, Protections(), -1.0, T0), -1.0, T0)
    p = record_trade(CFG, p, 0.01, T0)
    assert p.consecutive_losses == 0
    p = record_trade(CFG, record_trade(CFG, p, -1.0, T0), -1.0, T0)
    assert entries_allowed(p, T0)


@settings(max_examples=100, deadline=None)
@given(pnls=st.lists(st.floats(min_value=-10, max_value=10), max_size=40))
def test_cooldown_starts_exactly_when_a_streak_reaches_the_limit(pnls: list[float]) -> None:
    p = Protections()
    streak = 0
    for i, pnl in enumerate(pnls):
        now = T0 + i * 60_000
        before = p.cooldown_until_ms
        p = record_trade(CFG, p, pnl, now)
        streak = 0 if pnl > 0 else streak + 1
        if streak == CFG.max_consecutive_losses:
            assert p.cooldown_until_ms == now + CFG.cooldown_ms
            streak = 0
        else:
            assert p.cooldown_until_ms == before
        assert p.consecutive_losses == streak
