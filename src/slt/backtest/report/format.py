"""Formatting at the edge: fractions become percentages and ms become dates only here.

Both reports build their metrics tables from `metric_sections`, so a figure cannot read one
way in the terminal and another in the HTML file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum

from slt.backtest.metrics import Metrics
from slt.backtest.result import BacktestResult
from slt.domain.enums import Side
from slt.domain.position import TradeRecord

NA = "n/a"


class Tone(Enum):
    """How a figure should be coloured: good for the account, bad for it, or neither."""

    GOOD = "good"
    BAD = "bad"
    NEUTRAL = "neutral"


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    value: str
    tone: Tone = Tone.NEUTRAL


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    rows: tuple[Row, ...]


def tone_of(x: float | Decimal | None) -> Tone:
    """Positive is good, negative bad; undefined and zero are neutral."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x == 0:
        return Tone.NEUTRAL
    return Tone.GOOD if x > 0 else Tone.BAD


def fmt_pct(x: float | None, *, signed: bool = True, digits: int = 2) -> str:
    """A fraction as a percentage (0.05 -> '+5.00%'); None reads 'n/a', inf reads '∞'."""
    if x is None or math.isnan(x):
        return NA
    if math.isinf(x):
        return "+∞%" if x > 0 else "-∞%"
    return f"{x * 100:{'+' if signed else ''},.{digits}f}%"


def fmt_ratio(x: float | None, digits: int = 2) -> str:
    if x is None or math.isnan(x):
        return NA
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:.{digits}f}"


def fmt_money(x: Decimal | None, *, signed: bool = False, digits: int = 2) -> str:
    """USDT amounts with thousands separators; converted to float only for display."""
    if x is None:
        return NA
    return f"{float(x):{'+' if signed else ''},.{digits}f}"


def fmt_decimal(x: Decimal) -> str:
    """Prices and quantities as recorded, without exponent notation or trailing zeros."""
    text = f"{x:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_time(ms: int | None) -> str:
    if ms is None:
        return NA
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def fmt_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def fmt_duration(ms: int | None) -> str:
    """A span in the two largest units that matter to a trader: '3d 4h', '2h 15m', '45s'."""
    if ms is None:
        return NA
    sign = "-" if ms < 0 else ""
    seconds = abs(ms) // 1000
    days, rem = divmod(seconds, 86_400)
    hours, rem = divmod(rem, 3_600)
    minutes, secs = divmod(rem, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    while len(parts) > 1 and parts[0][0] == 0:
        parts.pop(0)
    shown = [f"{n}{unit}" for n, unit in parts[:2] if n or unit == parts[0][1]]
    return sign + " ".join(shown)


def fmt_side(side: Side) -> str:
    return "long" if side is Side.LONG else "short"


def fmt_period(result: BacktestResult) -> str:
    return f"{fmt_time(result.start_ms)} → {fmt_time(result.end_ms)} UTC"


def trade_summary(trade: TradeRecord | None) -> str:
    """One trade on one short line, for the best/worst rows."""
    if trade is None:
        return NA
    return (
        f"{fmt_money(trade.net_pnl, signed=True)} ({fmt_pct(trade.return_pct)}) "
        f"{trade.symbol} {fmt_side(trade.side)}"
    )


def metric_sections(result: BacktestResult, m: Metrics) -> tuple[Section, ...]:
    """The report's figures grouped the way a trader scans them: returns, risk, trades, costs."""
    dd = m.drawdown
    returns = Section(
        "Returns",
        (
            Row("Initial balance (USDT)", fmt_money(m.initial_balance)),
            Row("Final balance (USDT)", fmt_money(m.final_balance), tone_of(m.total_return)),
            Row("Net PnL (USDT)", fmt_money(m.net_pnl, signed=True), tone_of(m.net_pnl)),
            Row("Total return", fmt_pct(m.total_return), tone_of(m.total_return)),
            Row("CAGR (365-day year)", fmt_pct(m.cagr), tone_of(m.cagr)),
            Row("Period", fmt_duration(m.span_ms)),
            Row("Exposure", fmt_pct(m.exposure, signed=False)),
        ),
    )
    risk = Section(
        "Risk",
        (
            Row("Sharpe (daily, √365)", fmt_ratio(m.sharpe), tone_of(m.sharpe)),
            Row("Sortino (daily, √365)", fmt_ratio(m.sortino), tone_of(m.sortino)),
            Row("Daily returns", str(m.daily_returns)),
            Row("Max drawdown", fmt_pct(dd.max_drawdown, signed=False), tone_of(-dd.max_drawdown)),
            Row("Drawdown peak", fmt_time(dd.peak_ms)),
            Row("Drawdown trough", fmt_time(dd.trough_ms)),
            Row("Recovered", _recovery(dd.peak_ms, dd.recovery_ms)),
            Row("Drawdown duration", fmt_duration(dd.duration_ms)),
        ),
    )
    trades = Section(
        "Trades",
        (
            Row("Trades", str(m.trades)),
            Row("Longs / shorts", f"{m.longs} / {m.shorts}"),
            Row("Wins / losses", f"{m.wins} / {m.losses}"),
            Row("Win rate", fmt_pct(m.win_rate, signed=False)),
            Row("Profit factor", fmt_ratio(m.profit_factor), _pf_tone(m.profit_factor)),
            Row(
                "Expectancy (USDT)",
                fmt_money(m.expectancy_usdt, signed=True, digits=4),
                tone_of(m.expectancy_usdt),
            ),
            Row(
                "Expectancy (return)",
                fmt_pct(m.expectancy_return, digits=3),
                tone_of(m.expectancy_return),
            ),
            Row("Avg holding time", fmt_duration(m.avg_holding_ms)),
            Row("Best trade (USDT)", trade_summary(m.best_trade), _trade_tone(m.best_trade)),
            Row("Worst trade (USDT)", trade_summary(m.worst_trade), _trade_tone(m.worst_trade)),
        ),
    )
    costs = Section(
        "Costs",
        (
            Row("Fees paid (USDT)", fmt_money(m.fees_paid, digits=4)),
            Row("Funding paid (USDT)", fmt_money(m.funding_paid, signed=True, digits=4)),
            Row("Rejected orders", str(m.rejected_total)),
        ),
    )
    return returns, risk, trades, costs


def _pf_tone(pf: float | None) -> Tone:
    if pf is None or pf == 1.0:
        return Tone.NEUTRAL
    return Tone.GOOD if pf > 1.0 else Tone.BAD


def _recovery(peak_ms: int | None, recovery_ms: int | None) -> str:
    if peak_ms is None:
        return NA
    return fmt_time(recovery_ms) if recovery_ms is not None else "not recovered"


def _trade_tone(trade: TradeRecord | None) -> Tone:
    return tone_of(trade.net_pnl) if trade is not None else Tone.NEUTRAL
