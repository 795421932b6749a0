"""Buy-and-hold: what simply owning the traded symbols over the same period would have done.

It is the first thing a strategy's result must be read against. A trend-following long bias
in a rising market, or any strategy in a falling one, means little until it is set beside
"bought at the start, sold at the end".
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from decimal import Decimal

import numpy as np

from slt.backtest.driver import BacktestError
from slt.backtest.result import BacktestResult
from slt.config import Settings
from slt.domain import CandleSeries, ExitLeg, ExitReason, Side, TradeRecord
from slt.domain.candle import F64
from slt.rules.fees import trading_fee

SOURCE = "buy_and_hold"


def buy_and_hold(
    series: Mapping[str, CandleSeries], settings: Settings, *, run_id: str | None = None
) -> BacktestResult:
    """The initial balance split equally over the symbols, each bought at its first open and
    sold at its last close, as a `BacktestResult` the metrics and reports read like any run.

    Costs are the ones the engine pays on a market order: the price moves against the order by
    `settings.fees.slippage_pct` (a fraction) and the taker fee is charged on the filled
    notional at entry and at exit. Each symbol's share buys as much as it can including its
    entry fee. Holdings are unlevered, fractional (no lot or tick rounding) and pay no funding:
    this is a spot-like reference for "owning the market", not a perpetual position.

    Equity is sampled at the first open and at every candle close of the union time grid of
    the symbols (int UTC ms); a symbol without a candle at a step keeps its last close (forward
    fill); before its first candle its share is cash, after its last close it is the proceeds.
    One `TradeRecord` per symbol, closed with `END_OF_DATA`.
    """
    started = time.perf_counter()
    symbols = sorted(series)
    if not symbols or any(len(series[s]) == 0 for s in symbols):
        raise BacktestError("buy-and-hold needs at least one candle for every symbol")
    intervals = {series[s].interval for s in symbols}
    if len(intervals) > 1:
        raise BacktestError(f"symbols have different intervals {sorted(intervals)}")
    step_ms = series[symbols[0]].interval_ms
    grid = np.unique(np.concatenate([series[s].open_time for s in symbols]))
    fees = settings.fees
    slip = Decimal(repr(fees.slippage_pct))
    taker = Decimal(repr(fees.taker_rate))
    initial = Decimal(repr(settings.backtest.initial_balance))
    share = initial / len(symbols)

    equity = np.zeros(len(grid), dtype=np.float64)
    held = np.zeros(len(grid), dtype=bool)
    trades: list[TradeRecord] = []
    for sym in symbols:
        ser = series[sym]
        first_open, last_open = int(ser.open_time[0]), int(ser.open_time[-1])
        entry = Decimal(repr(float(ser.open[0]))) * (1 + slip)
        qty = share / (entry * (1 + taker))
        notional_in = qty * entry
        fee_in = trading_fee(notional_in, taker)
        dust = share - notional_in - fee_in  # cash the rounding of qty and fee leaves unspent
        exit_price = Decimal(repr(float(ser.close[-1]))) * (1 - slip)
        fee_out = trading_fee(qty * exit_price, taker)
        gross = qty * (exit_price - entry)
        net = gross - fee_in - fee_out
        end_ms = last_open + step_ms
        trades.append(
            TradeRecord(
                symbol=sym,
                side=Side.LONG,
                entry_time_ms=first_open,
                exit_time_ms=end_ms,
                entry_price=entry,
                exit_price=exit_price,
                quantity=qty,
                leverage=1,
                margin=notional_in,
                gross_pnl=gross,
                fees=fee_in + fee_out,
                funding=Decimal(0),
                net_pnl=net,
                return_pct=float(net / notional_in),
                exit_reason=ExitReason.END_OF_DATA,
                exits=(ExitLeg(end_ms, qty, exit_price, ExitReason.END_OF_DATA, gross, fee_out),),
                expected_return=0.0,
                confidence=0.0,
                source=SOURCE,
            )
        )
        equity += _symbol_value(
            grid, ser, float(share), float(dust), float(qty), float(share + net)
        )
        held |= (grid >= first_open) & (grid <= last_open)

    final = initial + sum((t.net_pnl for t in trades), Decimal(0))
    equity[-1] = float(final)  # the sum of floats may differ from the ledger in the last bits
    start_ms, end_ms = int(grid[0]), int(grid[-1]) + step_ms
    return BacktestResult(
        run_id=run_id or uuid.uuid4().hex[:12],
        config=settings.model_dump(mode="json"),
        symbols=tuple(symbols),
        interval=series[symbols[0]].interval,
        start_ms=start_ms,
        end_ms=end_ms,
        initial_balance=initial,
        final_balance=final,
        trades=tuple(trades),
        equity_time_ms=np.concatenate(([start_ms], grid + step_ms)).astype(np.int64),
        equity=np.concatenate(([float(initial)], equity)),
        in_market_ms=int(held.sum()) * step_ms,
        fees_paid=sum((t.fees for t in trades), Decimal(0)),
        funding_paid=Decimal(0),
        candles_processed=sum(len(series[s]) for s in symbols),
        elapsed_s=time.perf_counter() - started,
    )


def _symbol_value(
    grid: np.ndarray, ser: CandleSeries, share: float, dust: float, qty: float, proceeds: float
) -> F64:
    """Value of one symbol's share at the close of every grid step (USDT, float for the curve).

    Cash before its first candle, dust + qty × last close while held, and from its last candle
    on the proceeds after exit slippage and fee (the sale happens at that candle's close).
    """
    row = np.searchsorted(ser.open_time, grid, side="right") - 1
    marked = dust + qty * ser.close[np.maximum(row, 0)]
    value = np.where(row < 0, share, marked)
    return np.asarray(np.where(grid >= ser.open_time[-1], proceeds, value), dtype=np.float64)
