"""Properties every equity curve and trade list must satisfy, whatever their shape."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from slt.backtest.metrics import (
    compute_metrics,
    daily_grid,
    drawdown_series,
    max_drawdown,
)
from slt.backtest.report_html import minmax_indices
from slt.domain.candle import DAY_MS

from .conftest import T0, Build

positive_equity = st.lists(
    st.floats(min_value=1e-3, max_value=1e9, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=200,
)


@st.composite
def curves(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A sorted, irregularly sampled curve spanning up to ~40 days, repeats allowed."""
    values = draw(positive_equity)
    gaps = draw(
        st.lists(
            st.integers(min_value=0, max_value=3 * DAY_MS),
            min_size=len(values) - 1,
            max_size=len(values) - 1,
        )
    )
    start = T0 + draw(st.integers(min_value=0, max_value=DAY_MS - 1))
    times = np.array([start, *(start + np.cumsum(gaps, dtype=np.int64))], dtype=np.int64)
    return times, np.array(values, dtype=np.float64)


@given(curves())
def test_drawdown_is_a_fraction(curve: tuple[np.ndarray, np.ndarray]) -> None:
    t, eq = curve
    dd = drawdown_series(t, eq)
    assert np.all((dd >= 0.0) & (dd <= 1.0))
    assert 0.0 <= max_drawdown(t, eq).max_drawdown <= 1.0


@given(curves())
def test_monotone_curve_has_no_drawdown(curve: tuple[np.ndarray, np.ndarray]) -> None:
    t, eq = curve
    stats = max_drawdown(t, np.sort(eq))
    assert stats.max_drawdown == 0.0
    assert stats.peak_ms is None and stats.duration_ms is None


@given(curves(), st.floats(min_value=1e-3, max_value=1e3))
def test_drawdown_ignores_the_unit_of_equity(
    curve: tuple[np.ndarray, np.ndarray], scale: float
) -> None:
    t, eq = curve
    a, b = max_drawdown(t, eq), max_drawdown(t, eq * scale)
    assert math.isclose(a.max_drawdown, b.max_drawdown, rel_tol=1e-9, abs_tol=1e-12)


@given(curves())
def test_drawdown_peak_precedes_trough(curve: tuple[np.ndarray, np.ndarray]) -> None:
    stats = max_drawdown(*curve)
    if stats.peak_ms is not None:
        assert stats.trough_ms is not None and stats.duration_ms is not None
        assert stats.peak_ms <= stats.trough_ms
        assert stats.duration_ms >= stats.trough_ms - stats.peak_ms


@given(curves())
def test_daily_grid_never_invents_values(curve: tuple[np.ndarray, np.ndarray]) -> None:
    t, eq = curve
    days, closes = daily_grid(t, eq)
    assert np.all(np.diff(days) == DAY_MS)
    assert days[0] <= t[0] < days[0] + DAY_MS
    assert days[-1] <= t[-1] < days[-1] + DAY_MS
    for day, close in zip(days.tolist(), closes.tolist(), strict=True):
        # The close is exactly the last sample before the next midnight: a forward fill.
        last = int(np.searchsorted(t, day + DAY_MS, side="left")) - 1
        assert close == eq[last]
    assert set(closes.tolist()) <= set(eq.tolist())


net_pnls = st.lists(
    st.decimals(min_value=-1000, max_value=1000, places=4, allow_nan=False), max_size=40
)


@given(net_pnls)
def test_profit_factor_matches_win_and_loss_sums(pnls: list[Decimal]) -> None:
    m = compute_metrics(Build.result(trades=[Build.trade(net=str(p)) for p in pnls]))
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    assert m.gross_profit == sum(wins, Decimal(0))
    assert m.gross_loss == -sum(losses, Decimal(0))
    assert m.gross_profit - m.gross_loss == m.net_pnl == sum(pnls, Decimal(0))
    assert (m.wins, m.losses, m.trades) == (len(wins), len(losses), len(pnls))
    if losses:
        assert m.profit_factor is not None
        assert math.isclose(m.profit_factor * float(m.gross_loss), float(m.gross_profit))
    elif wins:
        assert m.profit_factor == math.inf
    else:
        assert m.profit_factor is None
    if pnls:
        assert m.win_rate == len(wins) / len(pnls)


@given(
    st.lists(st.floats(min_value=1.0, max_value=1e6), min_size=1, max_size=3000),
    st.integers(min_value=4, max_value=500),
)
def test_downsampling_keeps_extremes_and_bounds(values: list[float], max_points: int) -> None:
    v = np.array(values)
    idx = minmax_indices(v, max_points)
    assert len(idx) <= max(max_points, len(v) if len(v) <= max_points else 0)
    assert np.all(np.diff(idx) > 0)
    assert idx[0] == 0 and idx[-1] == len(v) - 1
    assert v[idx].min() == v.min() and v[idx].max() == v.max()
