"""Performance figures of a finished backtest, computed from its `BacktestResult` alone.

Everything here is a pure function over plain values so the report, the run store and the
tests agree on one definition of each figure. Units follow the project rule: returns and
drawdowns are fractions, times are int UTC milliseconds, money that arrives as `Decimal`
stays `Decimal` (it is converted to float only where it is displayed).

Conventions worth knowing:

* Crypto trades every day, so a year is 365 days both for CAGR and for annualising the
  Sharpe and Sortino ratios (`sqrt(365)`), with a risk-free rate of 0.
* Sharpe and Sortino use DAILY returns. The equity curve is sampled irregularly, so it is
  forward-filled onto a UTC-day grid first (`daily_equity`). A figure that is undefined
  (fewer than two daily returns, zero variance) is `None`, never 0 or NaN, so a report can
  say "n/a" instead of presenting a made-up number.
* Max drawdown uses the full-resolution curve, because daily sampling hides intraday dips.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import TypeVar

import numpy as np

from slt.backtest.result import BacktestResult
from slt.domain.candle import DAY_MS, F64, I64
from slt.domain.enums import ExitReason, Side
from slt.domain.position import TradeRecord

DAYS_PER_YEAR = 365
YEAR_MS = DAYS_PER_YEAR * DAY_MS
# Daily-return standard deviations below this are treated as zero: a float curve that grows
# by a constant factor yields returns that differ only by rounding noise, and dividing by that
# noise would report an absurd ratio instead of an undefined one.
_ZERO_STD = 1e-12

_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class DrawdownStats:
    """The deepest peak-to-trough fall of an equity curve.

    `duration_ms` runs from the peak until equity first regains it (`recovery_ms`), or until
    the last sample when it never did (`recovery_ms` is then None): that is how long the
    account stayed under water, which is what a trader has to sit through.
    """

    max_drawdown: float
    peak_ms: int | None
    trough_ms: int | None
    recovery_ms: int | None
    duration_ms: int | None


@dataclass(frozen=True)
class Metrics:
    """The figures of one backtest. `None` means "undefined for this run", never zero."""

    span_ms: int
    initial_balance: Decimal
    final_balance: Decimal
    net_pnl: Decimal
    total_return: float | None
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    daily_returns: int
    drawdown: DrawdownStats
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    gross_profit: Decimal
    gross_loss: Decimal
    profit_factor: float | None
    expectancy_usdt: Decimal | None
    expectancy_return: float | None
    avg_holding_ms: int | None
    exposure: float | None
    fees_paid: Decimal
    funding_paid: Decimal
    longs: int
    shorts: int
    best_trade: TradeRecord | None
    worst_trade: TradeRecord | None
    exit_legs_by_reason: Mapping[ExitReason, int]
    final_exits_by_reason: Mapping[ExitReason, int]
    pnl_by_symbol: Mapping[str, Decimal]
    rejected_orders: Mapping[str, int]

    @property
    def max_drawdown(self) -> float:
        return self.drawdown.max_drawdown

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected_orders.values())


def compute_metrics(result: BacktestResult) -> Metrics:
    """Every figure of the report for `result`; see the module docstring for conventions."""
    trades = result.trades
    span_ms = max(result.end_ms - result.start_ms, 0)
    total_return = _total_return(result.initial_balance, result.final_balance)
    returns = daily_returns(result)
    wins = [t.net_pnl for t in trades if t.net_pnl > 0]
    losses = [t.net_pnl for t in trades if t.net_pnl < 0]
    gross_profit = sum(wins, Decimal(0))
    gross_loss = -sum(losses, Decimal(0))
    n = len(trades)
    net_pnl = sum((t.net_pnl for t in trades), Decimal(0))
    return Metrics(
        span_ms=span_ms,
        initial_balance=result.initial_balance,
        final_balance=result.final_balance,
        net_pnl=net_pnl,
        total_return=total_return,
        cagr=cagr(total_return, span_ms),
        sharpe=sharpe_ratio(returns),
        sortino=sortino_ratio(returns),
        daily_returns=len(returns),
        drawdown=max_drawdown(result.equity_time_ms, result.equity),
        trades=n,
        wins=len(wins),
        losses=len(losses),
        win_rate=len(wins) / n if n else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        profit_factor=profit_factor(gross_profit, gross_loss),
        expectancy_usdt=net_pnl / n if n else None,
        expectancy_return=float(np.mean([t.return_pct for t in trades])) if n else None,
        avg_holding_ms=round(sum(t.holding_ms for t in trades) / n) if n else None,
        exposure=result.in_market_ms / span_ms if span_ms > 0 else None,
        fees_paid=result.fees_paid,
        funding_paid=result.funding_paid,
        longs=sum(1 for t in trades if t.side is Side.LONG),
        shorts=sum(1 for t in trades if t.side is Side.SHORT),
        best_trade=max(trades, key=lambda t: t.net_pnl) if trades else None,
        worst_trade=min(trades, key=lambda t: t.net_pnl) if trades else None,
        exit_legs_by_reason=_frozen(exit_legs_by_reason(trades)),
        final_exits_by_reason=_frozen(_ordered(Counter(t.exit_reason for t in trades))),
        pnl_by_symbol=_frozen(pnl_by_symbol(result)),
        rejected_orders=_frozen(dict(sorted(result.rejected_orders.items()))),
    )


def _total_return(initial: Decimal, final: Decimal) -> float | None:
    """Final over initial balance minus one; undefined without a positive starting balance."""
    if initial <= 0:
        return None
    return float(final / initial - 1)


def cagr(total_return: float | None, span_ms: int) -> float | None:
    """Compound annual growth rate over a wall-clock span of `span_ms`.

    A short run extrapolates hard (+1 % in a day is +3678 % a year); that is what CAGR means,
    so the figure is given as is and an overflow is reported as +inf rather than hidden.
    A wiped-out account (growth <= 0) compounds to -100 %.
    """
    if total_return is None or span_ms <= 0:
        return None
    growth = 1.0 + total_return
    if growth <= 0:
        return -1.0
    try:
        return math.exp(math.log(growth) * YEAR_MS / span_ms) - 1.0
    except OverflowError:
        return math.inf


def profit_factor(gross_profit: Decimal, gross_loss: Decimal) -> float | None:
    """Gross wins over gross losses (both positive): inf with no losses, None with neither."""
    if gross_loss > 0:
        return float(gross_profit / gross_loss)
    return math.inf if gross_profit > 0 else None


def daily_equity(result: BacktestResult) -> tuple[I64, F64]:
    """Equity at the end of every UTC day the run touched, as `(day_start_ms, equity)`.

    Equity is constant between two samples (see `BacktestResult`), so the value for a day is
    the last sample taken before the next midnight, carried forward over days without one.
    Every value returned is therefore a real sample of the curve; none is interpolated.
    """
    return daily_grid(result.equity_time_ms, result.equity)


def daily_grid(time_ms: I64, equity: F64) -> tuple[I64, F64]:
    """`daily_equity` on bare arrays (sorted by time), for callers without a result."""
    _check_curve(time_ms, equity)
    if len(time_ms) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    first_day = int(time_ms[0]) // DAY_MS * DAY_MS
    last_day = int(time_ms[-1]) // DAY_MS * DAY_MS
    days = np.arange(first_day, last_day + DAY_MS, DAY_MS, dtype=np.int64)
    # Index of the last sample strictly before the next midnight; the first day always holds
    # the first sample, so the index is never -1.
    idx = np.searchsorted(time_ms, days + DAY_MS, side="left") - 1
    return days, np.asarray(equity, dtype=np.float64)[idx]


def daily_returns(result: BacktestResult) -> F64:
    """Simple returns of each UTC day, the first day measured from the run's first sample.

    Starting from the first sample rather than from the first day's close keeps the first
    day's profit or loss in the series, so a run of N calendar days yields N returns.
    Days that start from a non-positive equity have no defined return and are left out.
    """
    _, closes = daily_equity(result)
    if len(closes) == 0:
        return np.empty(0, dtype=np.float64)
    levels = np.concatenate(([float(result.equity[0])], closes))
    prev, nxt = levels[:-1], levels[1:]
    ok = prev > 0
    return np.asarray(nxt[ok] / prev[ok] - 1.0, dtype=np.float64)


def sharpe_ratio(returns: F64) -> float | None:
    """Annualised Sharpe of daily returns (risk-free 0, sample std); None when undefined."""
    if len(returns) < 2 or not np.all(np.isfinite(returns)):
        return None
    std = float(np.std(returns, ddof=1))
    if std < _ZERO_STD:
        return None
    return float(np.mean(returns)) / std * math.sqrt(DAYS_PER_YEAR)


def sortino_ratio(returns: F64) -> float | None:
    """Annualised Sortino of daily returns, downside deviation against a 0 target.

    With no losing day the ratio is unbounded: +inf when the mean is positive (the run only
    went up), None when the mean is zero too (a flat curve has no risk-adjusted return).
    """
    if len(returns) < 2 or not np.all(np.isfinite(returns)):
        return None
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    mean = float(np.mean(returns))
    if downside < _ZERO_STD:
        return math.inf if mean > _ZERO_STD else None
    return mean / downside * math.sqrt(DAYS_PER_YEAR)


def drawdown_series(time_ms: I64, equity: F64) -> F64:
    """Fall from the running peak at every sample, as a fraction in [0, 1].

    `time_ms` is taken so a misaligned pair is caught here rather than plotted silently.
    While the running peak is not positive there is nothing to lose, so the drawdown is 0;
    equity below zero is clipped to a 100 % drawdown.
    """
    _check_curve(time_ms, equity)
    eq = np.asarray(equity, dtype=np.float64)
    if len(eq) == 0:
        return np.empty(0, dtype=np.float64)
    peak = np.maximum.accumulate(eq)
    dd = np.zeros_like(eq)
    pos = peak > 0
    dd[pos] = 1.0 - eq[pos] / peak[pos]
    return np.clip(dd, 0.0, 1.0)


def max_drawdown(time_ms: I64, equity: F64) -> DrawdownStats:
    """The deepest drawdown of the full-resolution curve, with when it started and ended."""
    dd = drawdown_series(time_ms, equity)
    if len(dd) == 0 or float(dd.max()) <= 0.0:
        return DrawdownStats(0.0, None, None, None, None)
    eq = np.asarray(equity, dtype=np.float64)
    trough = int(np.argmax(dd))
    peak = int(np.argmax(eq[: trough + 1]))
    after = np.flatnonzero(eq[trough:] >= eq[peak])
    recovery = trough + int(after[0]) if len(after) else None
    end = recovery if recovery is not None else len(eq) - 1
    return DrawdownStats(
        max_drawdown=float(dd[trough]),
        peak_ms=int(time_ms[peak]),
        trough_ms=int(time_ms[trough]),
        recovery_ms=int(time_ms[recovery]) if recovery is not None else None,
        duration_ms=int(time_ms[end]) - int(time_ms[peak]),
    )


def exit_legs_by_reason(trades: tuple[TradeRecord, ...]) -> dict[ExitReason, int]:
    """Count every exit leg by its reason, so partial take-profits show up beside final exits.

    A trade recorded without legs still left the market once, for its `exit_reason`.
    """
    counts: Counter[ExitReason] = Counter()
    for t in trades:
        if t.exits:
            counts.update(leg.reason for leg in t.exits)
        else:
            counts[t.exit_reason] += 1
    return _ordered(counts)


def pnl_by_symbol(result: BacktestResult) -> dict[str, Decimal]:
    """Net PnL per symbol, every symbol of the run listed (0 where it never traded)."""
    totals = {s: Decimal(0) for s in result.symbols}
    for t in result.trades:
        totals[t.symbol] = totals.get(t.symbol, Decimal(0)) + t.net_pnl
    return dict(sorted(totals.items()))


def _ordered(counts: Counter[ExitReason]) -> dict[ExitReason, int]:
    """Counts in the enum's declaration order, so reports list reasons consistently."""
    return {r: counts[r] for r in ExitReason if counts[r]}


def _frozen(d: dict[_K, _V]) -> Mapping[_K, _V]:
    return MappingProxyType(d)


def _check_curve(time_ms: I64, equity: F64) -> None:
    if len(time_ms) != len(equity):
        raise ValueError(f"equity curve misaligned: {len(time_ms)} times, {len(equity)} values")
    if len(time_ms) > 1 and bool(np.any(np.diff(time_ms) < 0)):
        raise ValueError("equity curve times must be sorted ascending")
