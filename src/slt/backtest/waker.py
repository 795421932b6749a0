"""Finding the next candle that matters.

Between two events an open position only waits: nothing the engine or the venue does can change
unless a candle reaches a resting order or the liquidation price, a close reaches the emergency
or trailing level (`risk.exits.close_wake_levels`), the drawdown halt could trip, the position
reaches its time exit, funding settles, a UTC day starts, or a signal arrives. The waker computes
the first step at which any of these can happen; every level errs early, so skipping is exact
(a test replays runs with and without skipping and demands identical trade lists).

A signal counts only if the engine could act on it: one for a symbol without a position, at a
close where entries are paused (a cooldown, or the drawdown halt of that UTC day), is dropped
unread, so its step is as quiet as any other. So is one that finds the portfolio full (positions
and entries in flight at `max_positions`) with no position it may rotate out of: the engine asks
`rotation_victim` over the same positions and gets None. Between two processed steps positions
change only in their marks, and rotation reads none of them (expected return, confidence, entry
time); any other change happens at a processed step, after which the schedule is read again.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
from numba.typed import List

from slt.backtest.timeline import Timeline, first_drawdown, first_wake
from slt.config import Settings
from slt.domain import CandleSeries, Position, Side
from slt.domain.candle import DAY_MS, F64
from slt.domain.numbers import as_float, remembered_float
from slt.engine.entries import passes_thresholds
from slt.risk.exits import close_wake_levels
from slt.risk.portfolio import rotation_victim
from slt.rules import ExchangeRules
from slt.strategy.base import LearningStrategy, SignalColumns

if TYPE_CHECKING:
    from slt.backtest.driver import _Run

_LastLevels = tuple[Decimal, Decimal, Decimal, Decimal | None, Decimal, Side, tuple[float, float]]


class Waker:
    def __init__(
        self,
        tl: Timeline,
        series: Mapping[str, CandleSeries],
        settings: Settings,
        rules: ExchangeRules,
        run: _Run,
    ) -> None:
        self.tl = tl
        self.series = series
        self.risk = settings.risk
        self.fees = settings.fees
        self.rules = rules
        self.run = run
        self.learner: LearningStrategy | None = None
        # The signal columns the driver reads (replaced with the timeline when a learner's model
        # changes) and the strategy's name: with them a signal that finds the portfolio full is
        # checked for a rotation the way the engine checks it. None: every signal step wakes.
        self.signals: Mapping[str, SignalColumns] | None = None
        self.source = ""
        # Each symbol's last close_wake_levels with the position fields it read: a position is
        # re-created at every close (new mark), but its levels change only when its size, stop
        # or margin do, and a re-created position carries the very same field objects.
        self._last_levels: dict[str, _LastLevels] = {}
        # each symbol's (low, high, close) columns, the arrays the scan reads
        self._columns = {s: (ser.low, ser.high, ser.close) for s, ser in series.items()}
        # Each symbol's close on the global grid (carried over gaps: the mark the engine keeps),
        # for the scan of the book's equity against the drawdown halt: built when first needed
        # (most runs never need it), the symbols' own arrays in one typed list, and their rows.
        self._close_grid: List[F64] | None = None
        self._grid_row = {s: i for i, s in enumerate(tl.close_grid)}
        # step_at_or_after of the few deadlines asked again at every wake-up (a position's time
        # exit, the next funding): the time grid never changes during a run
        self._steps_at: dict[int, int] = {}
        # (g, step) of the last next_close_day_step(g) answered: it holds for every g' in
        # [g, step] (their previous closes all lie in the same UTC day), and it is asked at
        # every wake-up with a position, mostly within the same day.
        self._day_step = (0, -1)
        # len(tl), asked at every wake-up: the grid keeps its steps when the signals change
        self._n_steps = len(tl)

    def next_step(self, g: int) -> int:
        """The first step ≥ g at which the engine or the venue could act."""
        run = self.run
        state = run.state
        venue = run.venue
        if state.pending:
            return g
        for queued in venue.market.values():  # any(), written out
            if queued:
                return g
        tl = self.tl
        nxt = self._next_signal(bisect.bisect_left(tl.signal_order, g))
        due = self.learner.due_ms() if self.learner is not None else None
        if due is not None:
            # the step whose close is the first at or after the learner's due time
            nxt = min(nxt, max(g, tl.step_at_or_after(due - tl.step_ms)))
        if not state.positions:
            return nxt
        day_from, day_step = self._day_step
        if not day_from <= g <= day_step:
            day_step = tl.next_close_day_step(g)
            # from step 0 on the first close stands in for the previous one: not memoised
            self._day_step = (g, day_step) if g > 0 else (0, -1)
        if day_step < nxt:
            nxt = day_step
        if nxt <= g:
            return g  # no position can wake earlier than now (a signal or a new day is due)
        p = state.protections
        if p.halted or p.day_start_equity <= 0:
            return self._positions_wake(g, nxt, None)[0]
        floor = p.day_start_equity * (1 - self.risk.daily_drawdown_halt)
        # run.equity(), its memo read inline (asked again by the driver for the same state)
        equity = run._equity if run._equity_of is state else run.equity()
        headroom = max(0.0, equity - floor) / len(state.positions)
        wake, split_woke = self._positions_wake(g, nxt, headroom)
        if not split_woke:
            return wake
        # The even split of the headroom woke a position first, but the engine halts on the
        # book's equity as a whole (rare: a loser and a winner together can stay clear of the
        # floor): the positions' own levels, then the first close that reaches the halt.
        own = self._positions_wake(g, nxt, None)[0]
        if own <= g:
            return g
        positions = state.positions
        got = remembered_float  # `got(v) or as_float(v)` is `as_float(v)` without a call
        b = state.balance
        grid = self._close_grid
        if grid is None:
            grid = self._close_grid = List(
                [np.ascontiguousarray(c) for c in self.tl.close_grid.values()]
            )
        row = self._grid_row
        return first_drawdown(
            grid,
            np.array([row[pos.symbol] for pos in positions], dtype=np.int64),
            np.array([got(pos.entry_price) or as_float(pos.entry_price) for pos in positions]),
            np.array([got(pos.quantity) or as_float(pos.quantity) for pos in positions]),
            np.array([float(int(pos.side)) for pos in positions]),
            got(b) or as_float(b),
            p.day_start_equity,
            self.risk.daily_drawdown_halt,
            g,
            own,
        )

    def _positions_wake(self, g: int, nxt: int, headroom: float | None) -> tuple[int, bool]:
        """The first step in [g, nxt] at which an open position could need the engine, and
        whether only a position's even share of the drawdown `headroom` (None: no halt to watch)
        runs out there, its candle reaching none of its own levels. Levels err early; so does
        the split (while no position loses more than its share, the book cannot lose it all)."""
        run = self.run
        state = run.state
        venue = run.venue
        tl = self.tl
        hold_ms = self.risk.max_hold_ms - tl.step_ms
        # Asked at every wake-up for every position: the deadlines' steps are read from the
        # memo before calling for them, and on a regular grid each symbol's only segment ends
        # at the last step (g is always before it here).
        steps_at = self._steps_at
        regular = tl.regular
        last = self._n_steps - 1
        held_at_venue = venue.positions
        columns = self._columns
        split_woke = False
        for pos in state.positions:
            if pos.closing_reason is not None:
                return g, False
            sym = pos.symbol
            deadline = pos.entry_time_ms + hold_ms
            bound = steps_at.get(deadline)
            if bound is None:
                bound = self._step_at(deadline)
            # min(), written out: the same ints, without a call per comparison
            if nxt < bound:
                bound = nxt
            # The last candle before a gap sets the mark the engine keeps using: see it.
            end = last if regular else tl.next_segment_end(sym, g)
            if end < bound:
                bound = end
            vpos = held_at_venue.get(sym)
            if vpos is not None:
                funding = steps_at.get(vpos.next_funding_ms)
                if funding is None:
                    funding = self._step_at(vpos.next_funding_ms)
                if funding < bound:
                    bound = funding
            if regular:
                r0, r_end = g, bound
            else:
                steps = tl.steps[sym]
                r0 = int(np.searchsorted(steps, g))
                r_end = int(np.searchsorted(steps, bound))
            low_t, high_t = venue.trigger_levels(sym)
            c_low, c_high = own_low, own_high = self._close_wake_levels(pos)
            if headroom is not None:
                q = pos.quantity
                move = headroom / (remembered_float(q) or as_float(q)) * (1 - 1e-9)
                # max() and min() written out, with their comparisons (NaN behaves the same)
                if pos.side > 0:
                    level = pos.mark_price - move
                    if level > c_low:
                        c_low = level
                else:
                    level = pos.mark_price + move
                    if level < c_high:
                        c_high = level
            low, high, close = columns[sym]
            k = first_wake(low, high, close, r0, r_end, low_t, high_t, c_low, c_high)
            # A deadline already passed (the symbol had no candle then) is due at its next candle.
            if k < r_end:
                wake = k if regular else int(tl.steps[sym][k])
            else:
                wake = bound if bound > g else g
            if wake < nxt:
                # woken by the share alone: the candle reaches none of the position's own levels
                split = (c_low is not own_low or c_high is not own_high) and not (
                    k == r_end
                    or low.item(k) <= low_t
                    or high.item(k) >= high_t
                    or close.item(k) <= own_low
                    or close.item(k) >= own_high
                )
                if wake <= g:
                    return g, split  # the positions left cannot wake earlier than now
                nxt, split_woke = wake, split
        return nxt, split_woke

    def _next_signal(self, i: int) -> int:
        """The first scheduled signal step from `signal_order[i]` on that the engine could act on.

        Entries are paused at a close `now` while now < cooldown_until_ms, or, once halted, until
        the UTC day of `day_start_ms` ends (the next day's first close resets the halt). A step
        cannot lift a pause, only add one, so a pause read from the current state holds at every
        step up to its end. With the portfolio full, a step whose signals are all for symbols
        without a position, none of which the engine would rotate into, is passed over as well;
        that walk stops at the first time exit of the open positions (a wake-up there, even an
        early one, only costs a processed step)."""
        tl = self.tl
        order = tl.signal_order
        n_steps = self._n_steps
        if i >= len(order):
            return n_steps
        state = self.run.state
        p = state.protections
        paused_until = p.cooldown_until_ms
        if p.halted:
            paused_until = max(paused_until, p.day_start_ms + DAY_MS)
        max_positions = self.risk.max_positions
        # the book's size first: it is asked at every wake-up, the active count only when full
        full = self.signals is not None and len(state.positions) >= max_positions
        if paused_until <= state.time_ms and not full:
            return order[i]
        full = full and state.active_count() >= max_positions
        held = {pos.symbol for pos in state.positions}
        horizon = n_steps  # lowered to the first time exit once a step is passed for fullness
        while i < len(order):
            step = order[i]
            if step >= horizon:
                return horizon
            symbols = tl.signal_steps[step]
            if not held.isdisjoint(symbols):
                return step
            now = max(state.time_ms, tl.times.item(step) + tl.step_ms)
            if now >= paused_until:
                if not (full and self._none_rotates(step, symbols)):
                    return step
                if horizon == n_steps:
                    # A time exit already due (its symbol had no candle then) ends the walk here.
                    hold_ms = self.risk.max_hold_ms - tl.step_ms
                    exits = [self._step_at(pos.entry_time_ms + hold_ms) for pos in state.positions]
                    horizon = max(min(exits), step)
            i += 1
        return horizon

    def _none_rotates(self, step: int, symbols: tuple[str, ...]) -> bool:
        """No signal at `step` (all for symbols without a position, the portfolio full) passes
        the engine's thresholds and finds a position to rotate out of."""
        signals = self.signals
        assert signals is not None
        tl = self.tl
        positions = self.run.state.positions
        close_ms = tl.times.item(step) + tl.step_ms
        for sym in symbols:
            signal = signals[sym].signal(sym, close_ms, tl.row(sym, step), self.source)
            if (
                signal is not None
                and passes_thresholds(self.risk, signal)
                and rotation_victim(self.risk, self.fees, positions, signal) is not None
            ):
                return False
        return True

    def _step_at(self, time_ms: int) -> int:
        step = self._steps_at.get(time_ms)
        if step is None:
            if len(self._steps_at) >= 4096:
                self._steps_at.clear()
            step = self._steps_at[time_ms] = self.tl.step_at_or_after(time_ms)
        return step

    def _close_wake_levels(self, pos: Position) -> tuple[float, float]:
        # Identity, not equality: no number is hashed or compared, and a changed field is always
        # a new object (a stop moved, a fill booked), which recomputes.
        last = self._last_levels.get(pos.symbol)
        if (
            last is not None
            and last[0] is pos.entry_price
            and last[1] is pos.quantity
            and last[2] is pos.margin
            and last[3] is pos.liquidation_price
            and last[4] is pos.stop_price
            and last[5] is pos.side
        ):
            return last[6]
        levels = close_wake_levels(self.risk, self.rules.get(pos.symbol), pos)
        self._last_levels[pos.symbol] = (
            pos.entry_price,
            pos.quantity,
            pos.margin,
            pos.liquidation_price,
            pos.stop_price,
            pos.side,
            levels,
        )
        return levels
