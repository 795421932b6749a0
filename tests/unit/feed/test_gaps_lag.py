"""Gap arithmetic (which open times are missing, what a fill still leaves) and the close-lag
summary, with plain values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.domain import Candle
from slt.feed.gaps import Gap, fill_plan, gap_between
from slt.feed.lag import LagTracker

M = 60_000
T0 = 1_700_000_040_000


def bar(k: int, symbol: str = "BTCUSDT") -> Candle:
    t = T0 + k * M
    return Candle(symbol, t, t + M - 1, 1.0, 1.0, 1.0, 1.0, 0.0)


def test_gap_between() -> None:
    assert gap_between("X", None, T0, M) is None
    assert gap_between("X", T0, T0 + M, M) is None
    assert gap_between("X", T0, T0, M) is None
    g = gap_between("X", T0, T0 + 4 * M, M)
    assert g == Gap("X", T0 + M, T0 + 3 * M, M)
    assert g.count == 3 and g.open_times() == [T0 + M, T0 + 2 * M, T0 + 3 * M]
    assert g.end_ms == T0 + 4 * M


@settings(deadline=None)  # a loaded machine must not fail a pure test
@given(st.integers(1, 30), st.sets(st.integers(0, 40)))
def test_fill_plan_splits_a_gap_into_found_and_still_missing(n: int, have: set[int]) -> None:
    gap = Gap("BTCUSDT", T0 + M, T0 + n * M, M)
    candles = [bar(k) for k in sorted(have)] + [bar(1, "ETHUSDT")]
    found, still = fill_plan(gap, candles)
    inside = sorted(k for k in have if 1 <= k <= n)
    assert [c.open_time for c in found] == [T0 + k * M for k in inside]
    missing = sorted(t for g in still for t in g.open_times())
    assert missing == [T0 + k * M for k in range(1, n + 1) if k not in have]
    assert all(g.first <= g.last for g in still)
    assert sum(g.count for g in still) + len(found) == gap.count


def test_lag_percentiles_and_max() -> None:
    lag = LagTracker(window=100)
    assert lag.summary() == {"p50_ms": 0, "p99_ms": 0, "max_ms": 0}
    for ms in range(1, 101):
        assert lag.record(T0 + M + ms - 1, T0 + M - 1) == ms - 1
    assert lag.p50_ms == 49 and lag.p99_ms == 98 and lag.max_ms == 99
    lag.record(T0, T0 + 5000)  # a negative lag (clock skew) is a sample like any other
    assert lag.count == 101 and lag.percentile(0.0) == -5001
    with pytest.raises(ValueError):
        lag.percentile(1.5)
    with pytest.raises(ValueError):
        LagTracker(0)


def test_lag_window_forgets_old_samples_but_not_the_max() -> None:
    lag = LagTracker(window=3)
    lag.record(10_000, -1)
    for _ in range(3):
        lag.record(5, -1)
    assert lag.p99_ms == 5 and lag.max_ms == 10_000
