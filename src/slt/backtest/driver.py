"""The historical driver: replays candles of many symbols in time order through the one Engine
and the simulated venue, on one shared account.

Per candle time it does what a live system sees happen: the venue settles funding and fills
queued market orders at the open, stops and targets trigger inside the candle, then the engine
gets the closed candles (with the strategy's signals) and answers with commands. Times where no
symbol has a position, an order or a signal cannot change anything, so they are skipped — the
engine would have done nothing there; that is what makes the driver fast.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal

import numpy as np

from slt.backtest.result import BacktestResult
from slt.config import Settings
from slt.domain import (
    Bar,
    BarsClosed,
    CancelOrder,
    Candle,
    CandleSeries,
    Command,
    Event,
    ExitReason,
    Notice,
    PlaceOrder,
    RecordTrade,
    TradeRecord,
)
from slt.engine.engine import Engine
from slt.engine.state import EngineState
from slt.rules import ExchangeRules
from slt.strategy.base import SignalColumns, Strategy
from slt.venues.simulated import SimulatedVenue

Progress = Callable[[int, int], None]


class BacktestError(Exception):
    """The backtest cannot run as asked (no data, unknown symbol...). The message says how to fix it."""


class _Run:
    """Mutable plumbing of one run: routes events to the engine and commands to the venue."""

    def __init__(self, engine: Engine, venue: SimulatedVenue, state: EngineState) -> None:
        self.engine = engine
        self.venue = venue
        self.state = state
        self.trades: list[TradeRecord] = []
        self.rejected: Counter[str] = Counter()
        self.marks: dict[str, float] = {}

    def feed(self, events: list[Event]) -> None:
        for event in events:
            self.state, commands = self.engine.step(self.state, event)
            if commands:
                self.execute(commands)

    def execute(self, commands: list[Command]) -> None:
        for cmd in commands:
            if isinstance(cmd, PlaceOrder | CancelOrder):
                sym = cmd.order.symbol if isinstance(cmd, PlaceOrder) else cmd.symbol
                self.feed(self.venue.submit(cmd, self.state.time_ms, self.marks.get(sym, 0.0)))
            elif isinstance(cmd, RecordTrade):
                self.trades.append(cmd.trade)
            elif isinstance(cmd, Notice) and cmd.kind.startswith("rejected:"):
                self.rejected[cmd.kind.removeprefix("rejected:")] += 1


def run_backtest(
    series: Mapping[str, CandleSeries],
    strategy: Strategy,
    settings: Settings,
    rules: ExchangeRules,
    *,
    run_id: str | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    started = time.perf_counter()
    symbols = sorted(series)
    _check_inputs(series, symbols, rules)
    interval = series[symbols[0]].interval
    step_ms = series[symbols[0]].interval_ms
    signals: dict[str, SignalColumns] = {s: strategy.batch(series[s]) for s in symbols}

    times = np.unique(np.concatenate([series[s].open_time for s in symbols]))
    n_steps = int(times.size)
    rows: dict[str, list[int]] = {}
    cols: dict[str, tuple[list[float], list[float], list[float], list[float], list[float]]] = {}
    signal_steps: dict[int, list[str]] = {}
    for s in symbols:
        ser = series[s]
        pos = np.searchsorted(times, ser.open_time)
        idx = np.full(n_steps, -1, dtype=np.int64)
        idx[pos] = np.arange(len(ser))
        rows[s] = idx.tolist()
        cols[s] = (
            ser.open.tolist(),
            ser.high.tolist(),
            ser.low.tolist(),
            ser.close.tolist(),
            ser.volume.tolist(),
        )
        for g in pos[np.nonzero(signals[s].direction)[0]].tolist():
            signal_steps.setdefault(g, []).append(s)
    signal_order = sorted(signal_steps)
    time_list = times.tolist()

    balance = Decimal(repr(settings.backtest.initial_balance))
    engine = Engine(rules, settings.risk, settings.fees)
    run = _Run(engine, SimulatedVenue(rules, settings.fees, balance), engine.initial_state(balance))
    eq_t: list[int] = [int(time_list[0])]
    eq_v: list[float] = [float(balance)]
    in_market_steps = 0
    next_signal = 0
    report_every = max(1, n_steps // 200)
    g = 0
    while g < n_steps:
        active = run.venue.active_symbols()
        if not active:
            while next_signal < len(signal_order) and signal_order[next_signal] < g:
                next_signal += 1
            if next_signal == len(signal_order):
                break
            g = signal_order[next_signal]
        if progress is not None and g % report_every == 0:
            progress(g, n_steps)
        t_open = time_list[g]
        step_symbols = sorted(active.union(signal_steps.get(g, ())))
        candles: list[tuple[Candle, int]] = []
        for s in step_symbols:
            r = rows[s][g]
            if r < 0:
                continue
            o, h, lo, c, v = cols[s]
            candles.append((Candle(s, t_open, t_open + step_ms - 1, o[r], h[r], lo[r], c[r], v[r]), r))
        for candle, _ in candles:
            run.marks[candle.symbol] = candle.open
            run.feed(run.venue.on_open(candle))
        for candle, _ in candles:
            run.feed(run.venue.on_range(candle))
        t_close = t_open + step_ms
        bars = []
        for candle, r in candles:
            run.marks[candle.symbol] = candle.close
            bars.append(Bar(candle, signals[candle.symbol].signal(candle.symbol, t_close, r, strategy.name)))
        run.feed([BarsClosed(t_close, tuple(bars))])
        if run.state.positions:
            in_market_steps += 1
        eq_t.append(t_close)
        eq_v.append(run.state.equity())
        g += 1

    end_ms = int(time_list[-1]) + step_ms
    _flatten(run, end_ms)
    eq_t.append(end_ms)
    eq_v.append(float(run.state.balance))
    if progress is not None:
        progress(n_steps, n_steps)
    trades = tuple(run.trades)
    return BacktestResult(
        run_id=run_id or uuid.uuid4().hex[:12],
        config=settings.model_dump(mode="json"),
        symbols=tuple(symbols),
        interval=interval,
        start_ms=int(time_list[0]),
        end_ms=end_ms,
        initial_balance=balance,
        final_balance=run.state.balance,
        trades=trades,
        equity_time_ms=np.asarray(eq_t, dtype=np.int64),
        equity=np.asarray(eq_v, dtype=np.float64),
        in_market_ms=in_market_steps * step_ms,
        fees_paid=sum((t.fees for t in trades), Decimal(0)),
        funding_paid=sum((t.funding for t in trades), Decimal(0)),
        rejected_orders=dict(run.rejected + run.venue.rejections),
        candles_processed=sum(len(series[s]) for s in symbols),
        elapsed_s=time.perf_counter() - started,
    )


def _flatten(run: _Run, end_ms: int) -> None:
    """Close what is still open at the last close, so the result holds only realised trades."""
    run.state, commands = run.engine.close_all(run.state, end_ms, ExitReason.END_OF_DATA)
    run.execute(commands)
    for sym in sorted(run.venue.market):
        run.feed(run.venue.flush(sym, run.marks[sym], end_ms))


def _check_inputs(series: Mapping[str, CandleSeries], symbols: list[str], rules: ExchangeRules) -> None:
    if not symbols:
        raise BacktestError("no candles to backtest: import data with `slt data import FILE...`")
    intervals = {series[s].interval for s in symbols}
    if len(intervals) > 1:
        raise BacktestError(f"symbols have different intervals {sorted(intervals)}; pick one with --interval")
    for s in symbols:
        if len(series[s]) == 0:
            raise BacktestError(f"no candles for {s} in the chosen window; widen --start/--end or import data")
        if s not in rules:
            raise BacktestError(
                f"{s} has no exchange rules (not a USDⓈ-M perpetual in the bundled exchangeInfo); "
                "drop it from --symbols"
            )
