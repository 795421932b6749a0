"""Metrics against figures worked out by hand, and the edge cases where a figure is undefined."""

from __future__ import annotations

import math
import statistics
from decimal import Decimal

import numpy as np
import pytest

from slt.backtest.metrics import (
    cagr,
    compute_metrics,
    daily_equity,
    daily_returns,
    drawdown_series,
    max_drawdown,
    profit_factor,
    sharpe_ratio,
    sortino_ratio,
)
from slt.backtest.result import BacktestResult
from slt.domain.candle import DAY_MS, HOUR_MS
from slt.domain.enums import ExitReason, Side

from .conftest import T0, Build

# Daily closes of the scenario from its opening 1000: 1050, 1050, 1000, 1155.
SCENARIO_RETURNS = [0.05, 0.0, 1000 / 1050 - 1, 0.155]


def test_daily_equity_forward_fills_days_without_samples(scenario: BacktestResult) -> None:
    days, closes = daily_equity(scenario)
    assert days.tolist() == [T0 + k * DAY_MS for k in range(4)]
    assert closes.tolist() == [1050.0, 1050.0, 1000.0, 1155.0]


def test_daily_returns_start_from_the_first_sample(scenario: BacktestResult) -> None:
    assert daily_returns(scenario) == pytest.approx(SCENARIO_RETURNS)


def test_scenario_returns_and_risk(scenario: BacktestResult) -> None:
    m = compute_metrics(scenario)
    assert m.span_ms == 4 * DAY_MS
    assert m.total_return == pytest.approx(0.155)
    assert m.cagr == pytest.approx(1.155 ** (365 / 4) - 1)
    r = SCENARIO_RETURNS
    assert m.sharpe == pytest.approx(statistics.mean(r) / statistics.stdev(r) * math.sqrt(365))
    downside = math.sqrt((1000 / 1050 - 1) ** 2 / 4)
    assert m.sortino == pytest.approx(statistics.mean(r) / downside * math.sqrt(365))
    assert m.daily_returns == 4
    assert m.exposure == pytest.approx(8 / 96)


def test_scenario_drawdown_uses_full_resolution(scenario: BacktestResult) -> None:
    dd = compute_metrics(scenario).drawdown
    # 1100 -> 945 happens inside day 3; the daily closes alone would only show 1050 -> 1000.
    assert dd.max_drawdown == pytest.approx(1 - 945 / 1100)
    assert dd.peak_ms == T0 + 6 * HOUR_MS
    assert dd.trough_ms == T0 + 2 * DAY_MS + HOUR_MS
    assert dd.recovery_ms == T0 + 3 * DAY_MS + 2 * HOUR_MS
    assert dd.duration_ms == 2 * DAY_MS + 20 * HOUR_MS


def test_scenario_trade_figures(scenario: BacktestResult) -> None:
    m = compute_metrics(scenario)
    assert (m.trades, m.wins, m.losses, m.longs, m.shorts) == (3, 2, 1, 2, 1)
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.gross_profit == Decimal(205)
    assert m.gross_loss == Decimal(50)
    assert m.profit_factor == pytest.approx(4.1)
    assert m.net_pnl == Decimal(155)
    assert m.expectancy_usdt == Decimal(155) / 3
    assert m.expectancy_return == pytest.approx((0.02 - 0.03 + 0.025) / 3)
    assert m.avg_holding_ms == (5 + 1 + 2) * HOUR_MS // 3
    assert m.best_trade is not None and m.best_trade.net_pnl == Decimal(105)
    assert m.worst_trade is not None and m.worst_trade.symbol == "ETHUSDT"
    assert m.fees_paid == Decimal("2.5") and m.funding_paid == Decimal("0.25")


def test_scenario_counts_every_exit_leg_and_each_final_reason(scenario: BacktestResult) -> None:
    m = compute_metrics(scenario)
    assert dict(m.exit_legs_by_reason) == {
        ExitReason.STOP_LOSS: 1,
        ExitReason.TAKE_PROFIT: 1,
        ExitReason.PARTIAL_TAKE_PROFIT: 1,
        ExitReason.TRAILING_STOP: 1,
    }
    assert dict(m.final_exits_by_reason) == {
        ExitReason.STOP_LOSS: 1,
        ExitReason.TAKE_PROFIT: 1,
        ExitReason.TRAILING_STOP: 1,
    }


def test_scenario_symbols_and_rejections(scenario: BacktestResult) -> None:
    m = compute_metrics(scenario)
    assert dict(m.pnl_by_symbol) == {
        "BTCUSDT": Decimal(205),
        "ETHUSDT": Decimal(-50),
        "SOLUSDT": Decimal(0),
    }
    assert list(m.rejected_orders.items()) == [("filter", 1), ("min_notional", 2)]
    assert m.rejected_total == 3


def test_no_trades_and_flat_equity_leave_trade_figures_undefined(build: type[Build]) -> None:
    times = [T0 + k * 6 * HOUR_MS for k in range(13)]  # three days
    m = compute_metrics(build.result(times=times, equity=[1000.0] * 13))
    assert m.trades == 0
    assert m.total_return == 0.0 and m.cagr == 0.0
    assert m.sharpe is None and m.sortino is None  # zero variance: undefined, not 0
    assert m.drawdown.max_drawdown == 0.0 and m.drawdown.peak_ms is None
    assert m.win_rate is None and m.profit_factor is None
    assert m.expectancy_usdt is None and m.expectancy_return is None
    assert m.avg_holding_ms is None and m.best_trade is None and m.worst_trade is None
    assert not m.exit_legs_by_reason and not m.final_exits_by_reason
    assert m.exposure == 0.0


def test_one_day_of_data_has_no_sharpe(build: type[Build]) -> None:
    m = compute_metrics(
        build.result(times=[T0, T0 + HOUR_MS, T0 + 5 * HOUR_MS], equity=[1000.0, 990.0, 1020.0])
    )
    assert m.daily_returns == 1
    assert m.sharpe is None and m.sortino is None
    assert m.total_return == pytest.approx(0.02)


def test_empty_equity_curve_does_not_fail(build: type[Build]) -> None:
    m = compute_metrics(build.result(times=[], equity=[], start_ms=T0, end_ms=T0))
    assert m.sharpe is None and m.cagr is None and m.exposure is None
    assert m.drawdown.max_drawdown == 0.0


def test_constant_growth_has_no_sharpe_and_unbounded_sortino(build: type[Build]) -> None:
    # +1 % every day, booked just before each midnight.
    times = [T0] + [T0 + (k + 1) * DAY_MS - 60_000 for k in range(9)]
    equity = [1000.0 * 1.01**k for k in range(10)]
    m = compute_metrics(build.result(times=times, equity=equity))
    assert m.sharpe is None
    assert m.sortino == math.inf


def test_profit_factor_edges() -> None:
    assert profit_factor(Decimal(10), Decimal(0)) == math.inf
    assert profit_factor(Decimal(0), Decimal(5)) == 0.0
    assert profit_factor(Decimal(0), Decimal(0)) is None
    assert profit_factor(Decimal(30), Decimal(20)) == pytest.approx(1.5)


def test_only_winners_give_infinite_profit_factor(build: type[Build]) -> None:
    trades = [build.trade(net="5"), build.trade(net="7", side=Side.SHORT)]
    m = compute_metrics(build.result(trades=trades))
    assert m.profit_factor == math.inf and m.win_rate == 1.0


def test_breakeven_trades_are_neither_wins_nor_losses(build: type[Build]) -> None:
    m = compute_metrics(build.result(trades=[build.trade(net="0"), build.trade(net="-2")]))
    assert (m.wins, m.losses, m.trades) == (0, 1, 2)
    assert m.win_rate == 0.0 and m.profit_factor == 0.0


def test_trade_without_legs_counts_its_final_reason_once(build: type[Build]) -> None:
    t = build.trade(reason=ExitReason.LIQUIDATION, legs=[])
    m = compute_metrics(build.result(trades=[t]))
    assert dict(m.exit_legs_by_reason) == {ExitReason.LIQUIDATION: 1}


def test_cagr_edges() -> None:
    assert cagr(0.1, 365 * DAY_MS) == pytest.approx(0.1)
    assert cagr(0.21, 2 * 365 * DAY_MS) == pytest.approx(0.1)
    assert cagr(0.1, 0) is None
    assert cagr(None, DAY_MS) is None
    assert cagr(-1.0, DAY_MS) == -1.0
    assert cagr(10.0, 1) == math.inf  # an overflow is reported, not hidden


def test_ratios_need_two_finite_returns() -> None:
    assert sharpe_ratio(np.array([0.01])) is None
    assert sortino_ratio(np.array([])) is None
    assert sharpe_ratio(np.array([0.01, np.nan, 0.02])) is None


def test_drawdown_series_by_hand() -> None:
    t = np.arange(5, dtype=np.int64)
    dd = drawdown_series(t, np.array([100.0, 120.0, 90.0, 130.0, 65.0]))
    assert dd == pytest.approx([0.0, 0.0, 0.25, 0.0, 0.5])
    stats = max_drawdown(t, np.array([100.0, 120.0, 90.0, 130.0, 65.0]))
    assert (stats.peak_ms, stats.trough_ms, stats.recovery_ms) == (3, 4, None)
    assert stats.duration_ms == 1  # unrecovered: measured to the last sample


def test_misaligned_or_unsorted_curves_are_rejected() -> None:
    with pytest.raises(ValueError, match="misaligned"):
        drawdown_series(np.arange(3, dtype=np.int64), np.ones(2))
    with pytest.raises(ValueError, match="sorted"):
        drawdown_series(np.array([2, 1], dtype=np.int64), np.ones(2))


def test_metrics_are_frozen(scenario: BacktestResult) -> None:
    m = compute_metrics(scenario)
    with pytest.raises(AttributeError):
        m.trades = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        m.rejected_orders["filter"] = 9  # type: ignore[index]
