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
from collections.abc import Callable, Mapping, Set
from decimal import Decimal

import numpy as np

from slt.backtest.quiet import QuietSteps
from slt.backtest.result import BacktestResult
from slt.backtest.timeline import Timeline
from slt.backtest.waker import Waker as _Waker
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
    OrderCanceled,
    PlaceOrder,
    RecordTrade,
    TradeRecord,
)
from slt.engine.engine import Engine
from slt.engine.state import EngineState
from slt.rules import ExchangeRules
from slt.strategy.base import LearningStrategy, SignalColumns, Strategy
from slt.venues.simulated import SimulatedVenue

Progress = Callable[[int, int], None]


class BacktestError(Exception):
    """The backtest cannot run as asked (no data, unknown symbol...); the message says the fix."""


class _Run:
    """Mutable plumbing of one run: routes events to the engine and commands to the venue."""

    def __init__(self, engine: Engine, venue: SimulatedVenue, state: EngineState) -> None:
        self.engine = engine
        self.venue = venue
        self.state = state
        self.trades: list[TradeRecord] = []
        self.rejected: Counter[str] = Counter()
        self.marks: dict[str, float] = {}
        self._equity_of: EngineState | None = None
        self._equity = 0.0

    def equity(self) -> float:
        """The current state's equity, computed once per state (the driver records it and the
        waker reads it again before the next step)."""
        if self._equity_of is not self.state:
            self._equity_of = self.state
            self._equity = self.state.equity()
        return self._equity

    def feed(self, events: list[Event]) -> None:
        """Give the engine every event of a batch before acting on its answers, as on a real
        exchange: two orders filled by one candle are both reported before we react to either."""
        commands: list[Command] = []
        step = self.engine.step
        gone: set[str] = set()
        for event in events:
            if isinstance(event, OrderCanceled):
                gone.add(event.client_id)
            self.state, more = step(self.state, event)
            if more:
                commands.extend(more)
        if commands:
            self.execute(commands, gone)

    def execute(self, commands: list[Command], gone: Set[str] = frozenset()) -> None:
        """Send the engine's commands to the venue and feed back what they cause. A cancel of
        an order in `gone` (the venue reported it canceled in the batch the commands answer:
        the stop and targets it expires with a position a fill closed) is not sent: the venue
        no longer holds it and would answer nothing."""
        submit = self.venue.submit
        marks = self.marks
        tracks = self.engine.tracks
        for cmd in commands:
            if isinstance(cmd, PlaceOrder):
                events = submit(cmd, self.state.time_ms, marks.get(cmd.order.symbol, 0.0))
            elif isinstance(cmd, CancelOrder):
                if cmd.client_id in gone:
                    continue
                events = submit(cmd, self.state.time_ms, marks.get(cmd.symbol, 0.0))
            elif isinstance(cmd, RecordTrade):
                self.trades.append(cmd.trade)
                continue
            else:
                if isinstance(cmd, Notice) and cmd.kind.startswith("rejected:"):
                    self.rejected[cmd.kind.removeprefix("rejected:")] += 1
                continue
            if not events:
                continue  # accepted as sent: the venue does not acknowledge (see run_backtest)
            if len(events) == 1:
                # Most cancels are confirmed for an order the engine dropped when it sent the
                # cancel, which it would answer with its state unchanged and no commands.
                event = events[0]
                if isinstance(event, OrderCanceled) and not tracks(self.state, event.client_id):
                    continue
            self.feed(events)


def run_backtest(
    series: Mapping[str, CandleSeries],
    strategy: Strategy,
    settings: Settings,
    rules: ExchangeRules,
    *,
    run_id: str | None = None,
    progress: Progress | None = None,
    skip_quiet: bool = True,
    start_ms: int | None = None,
) -> BacktestResult:
    """Replay `series` through the engine; `skip_quiet=False` feeds every candle of every symbol
    (slow; tests use it to prove that skipping quiet candles changes nothing). With `start_ms`,
    earlier candles are history the strategy warms up on, and the run starts there."""
    started = time.perf_counter()
    symbols = sorted(series)
    history = series
    cut = {s: 0 for s in symbols}
    if start_ms is not None:
        # Candles before `start_ms` only warm the strategy up: signals are computed on the
        # whole history, trading starts at the first candle at or after `start_ms`.
        cut = {s: int(np.searchsorted(series[s].open_time, start_ms)) for s in symbols}
        series = {s: series[s].slice(cut[s], len(series[s])) for s in symbols}

    def signals_of() -> dict[str, SignalColumns]:
        return {s: strategy.batch(history[s]).slice(cut[s]) for s in symbols}

    _check_inputs(series, symbols, rules)
    signals = signals_of()
    tl = Timeline.build(series, signals)
    learner = strategy if isinstance(strategy, LearningStrategy) else None
    n_steps = len(tl)
    step_ms = tl.step_ms
    balance = Decimal(repr(settings.backtest.initial_balance))
    engine = Engine(rules, settings.risk, settings.fees)
    venue = SimulatedVenue(rules, settings.fees, balance, acknowledge=False)
    run = _Run(engine, venue, engine.initial_state(balance))
    waker = _Waker(tl, series, settings, rules, run)
    waker.learner = learner
    waker.signals, waker.source = signals, strategy.name
    equity = np.full(n_steps, float(balance))
    in_market = np.zeros(n_steps, dtype=bool)
    quiet = QuietSteps(symbols)
    trades_seen = 0
    # Steps at which some symbol's data ends before the run does (none on a regular grid).
    last_rows = {s: len(series[s]) - 1 for s in symbols}
    data_ends = {int(tl.steps[s][-1]) for s in symbols} - {n_steps - 1}
    report_every = max(1, n_steps // 200)
    last_reported = -report_every
    # Each symbol's column readers, looked up once: every processed step builds a candle for
    # each symbol it touches (the grid never changes during a run, even when signals do).
    readers = {
        s: (ser.open.item, ser.high.item, ser.low.item, ser.close.item, ser.volume.item)
        for s, ser in series.items()
    }
    regular, rows = tl.regular, tl.rows
    times_item = tl.times.item  # the grid's times never change, even when signals do
    signal_steps = tl.signal_steps  # replaced with the timeline when a model changes
    engine_step = engine.step
    # the run's venue and marks never change: their per-candle methods and dicts, looked up once
    marks, on_open, on_range = run.marks, run.venue.on_open, run.venue.on_range
    levels, held_at_venue, queued = run.venue.levels, run.venue.positions, run.venue.market
    active_symbols = run.venue.active_symbols
    # the processed steps, their equity and those with a position (the skipped ones are in quiet)
    done: list[int] = []
    done_equity: list[float] = []
    held: list[int] = []
    done_append, equity_append, held_append = done.append, done_equity.append, held.append
    g = 0
    while g < n_steps:
        if skip_quiet:
            nxt = waker.next_step(g)
            if nxt > g:
                quiet.record(g, min(nxt, n_steps), run.state)
            g = nxt
            if g >= n_steps:
                break
        if progress is not None and g - last_reported >= report_every:
            progress(g, n_steps)
            last_reported = g
        t_open = times_item(g)
        signalled = signal_steps.get(g, ())
        if skip_quiet:
            # Symbols the engine or venue holds something on (a position, an order): their
            # candles must be seen.
            wanted = active_symbols()
            st = run.state
            for p in st.positions:
                wanted.add(p.symbol)
            for e in st.pending:
                wanted.add(e.symbol)
            wanted.update(signalled)
            step_symbols = sorted(wanted)
        else:
            step_symbols = symbols
        # Candles alone, without their rows: on a regular grid the row is g, and elsewhere it
        # is read again only for a signalled symbol or at a step where some data ends.
        candles: list[Candle] = []
        close_time = t_open + step_ms - 1
        for s in step_symbols:
            r = g if regular else int(rows[s][g])  # tl.row(s, g), written out
            if r >= 0:
                o, h, lo, c, v = readers[s]
                candles.append(Candle(s, t_open, close_time, o(r), h(r), lo(r), c(r), v(r)))
        for candle in candles:
            sym = candle.symbol
            marks[sym] = candle.open
            # on_open's own tests, without the call: with no funding due on the symbol and no
            # market order queued for it (not even an empty queue to pop) it returns nothing
            if sym not in queued:
                vpos = held_at_venue.get(sym)
                if vpos is None or candle.open_time < vpos.next_funding_ms:
                    continue
            events = on_open(candle)
            if events:
                run.feed(events)
        for candle in candles:
            # on_range's own first test, without the call: strictly inside the symbol's current
            # trigger levels nothing can trigger (the venue drops them at every change)
            cached = levels.get(candle.symbol)
            if cached is not None and candle.low > cached[0] and candle.high < cached[1]:
                continue
            events = on_range(candle)
            if events:
                run.feed(events)
        t_close = t_open + step_ms
        bars = []
        for candle in candles:
            sym = candle.symbol
            marks[sym] = candle.close
            if sym in signalled:
                # only the symbols the schedule lists have a non-zero direction here
                r = g if regular else int(rows[sym][g])
                bars.append(Bar(candle, signals[sym].signal(sym, t_close, r, strategy.name)))
            else:
                bars.append(Bar(candle, None))
        # run.feed([...]) for the one event, written out
        run.state, answer = engine_step(run.state, BarsClosed(t_close, tuple(bars)))
        if answer:
            run.execute(answer)
        if g in data_ends:
            ended = frozenset(
                c.symbol for c in candles if int(rows[c.symbol][g]) == last_rows[c.symbol]
            )
            if ended:
                # A symbol's data ends here (as on a delisting): what it holds is closed at its
                # last close instead of waiting, frozen, for candles that never come.
                _flatten(run, t_close, {s: float(series[s].close[-1]) for s in ended}, ended)
        due = learner.due_ms() if learner is not None else None
        if learner is not None and (
            len(run.trades) > trades_seen or (due is not None and t_close >= due)
        ):
            closed, trades_seen = run.trades[trades_seen:], len(run.trades)
            if learner.on_trades_closed(closed, t_close):
                # The model changed at this close: later bars get its signals, earlier keep theirs.
                signals = waker.signals = signals_of()
                tl = waker.tl = tl.with_signals(signals, after=g)
                signal_steps = tl.signal_steps
        st = run.state
        # run.equity(), its memo read inline (the waker asked for this state before, mostly);
        # kept in lists and written to the arrays in one go after the loop
        done_append(g)
        equity_append(run._equity if run._equity_of is st else run.equity())
        if st.positions:
            held_append(g)
        g += 1

    equity[np.array(done, dtype=np.intp)] = done_equity
    in_market[np.array(held, dtype=np.intp)] = True
    quiet.fill(tl.close_grid, equity, in_market)
    end_ms = tl.times.item(-1) + step_ms
    _flatten(run, end_ms, {s: float(series[s].close[-1]) for s in symbols})
    if progress is not None:
        progress(n_steps, n_steps)
    trades = tuple(run.trades)
    eq_time = np.concatenate(([tl.times.item(0)], tl.times + step_ms, [end_ms])).astype(np.int64)
    eq_value = np.concatenate(([float(balance)], equity, [float(run.state.balance)]))
    return BacktestResult(
        run_id=run_id or uuid.uuid4().hex[:12],
        config=settings.model_dump(mode="json"),
        symbols=tuple(symbols),
        interval=series[symbols[0]].interval,
        start_ms=tl.times.item(0),
        end_ms=end_ms,
        initial_balance=balance,
        final_balance=run.state.balance,
        trades=trades,
        equity_time_ms=eq_time,
        equity=eq_value,
        in_market_ms=int(in_market.sum()) * step_ms,
        fees_paid=sum((t.fees for t in trades), Decimal(0)),
        funding_paid=sum((t.funding for t in trades), Decimal(0)),
        rejected_orders=dict(run.rejected + run.venue.rejections),
        candles_processed=sum(len(series[s]) for s in symbols),
        elapsed_s=time.perf_counter() - started,
        model_events=learner.model_events() if learner is not None else (),
    )


def _flatten(
    run: _Run,
    end_ms: int,
    last_close: Mapping[str, float],
    symbols: frozenset[str] | None = None,
) -> None:
    """Close what is still open at each symbol's last close, so the result holds only realised
    trades; entries decided on the last close never fill (there is no next open)."""
    run.state, commands = run.engine.close_all(run.state, end_ms, ExitReason.END_OF_DATA, symbols)
    run.execute(commands)
    for sym in sorted(run.venue.market):
        if symbols is None or sym in symbols:
            run.feed(run.venue.flush(sym, last_close[sym], end_ms))


def _check_inputs(
    series: Mapping[str, CandleSeries], symbols: list[str], rules: ExchangeRules
) -> None:
    if not symbols:
        raise BacktestError("no candles to backtest: import data with `slt data import FILE...`")
    intervals = {series[s].interval for s in symbols}
    if len(intervals) > 1:
        raise BacktestError(
            f"symbols have different intervals {sorted(intervals)}; pick one with --interval"
        )
    for s in symbols:
        if len(series[s]) == 0:
            raise BacktestError(
                f"no candles for {s} in the chosen window; widen --start/--end or import data"
            )
        if s not in rules:
            raise BacktestError(
                f"{s} has no exchange rules (not a USDⓈ-M perpetual in the bundled exchangeInfo); "
                "drop it from --symbols"
            )
