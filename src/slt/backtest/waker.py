"""Finding the next candle that matters.

Between two events an open position only waits: nothing the engine or the venue does can change
unless a candle reaches a resting order or the liquidation price, a close reaches the emergency
or trailing level (`risk.exits.close_wake_levels`), the drawdown halt could trip, the position
reaches its time exit, funding settles, a UTC day starts, or a signal arrives. The waker computes
the first step at which any of these can happen; every level errs early, so skipping is exact
(a test replays runs with and without skipping and demands identical trade lists).

A signal counts only if the engine could act on it: one for a symbol without a position, at a
close where entries are paused (a cooldown, or the drawdown halt of that UTC day), is dropped
unread, so its step is as quiet as any other.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from slt.backtest.timeline import Timeline, first_wake
from slt.config import Settings
from slt.domain import CandleSeries, Position, Side
from slt.domain.candle import DAY_MS
from slt.domain.numbers import as_float
from slt.risk.exits import close_wake_levels
from slt.rules import ExchangeRules
from slt.strategy.base import LearningStrategy

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
        self.rules = rules
        self.run = run
        self.learner: LearningStrategy | None = None
        # Each symbol's last close_wake_levels with the position fields it read: a position is
        # re-created at every close (new mark), but its levels change only when its size, stop
        # or margin do, and a re-created position carries the very same field objects.
        self._last_levels: dict[str, _LastLevels] = {}
        # step_at_or_after of the few deadlines asked again at every wake-up (a position's time
        # exit, the next funding): the time grid never changes during a run
        self._steps_at: dict[int, int] = {}

    def next_step(self, g: int) -> int:
        """The first step ≥ g at which the engine or the venue could act."""
        run = self.run
        state = run.state
        venue = run.venue
        if state.pending or any(venue.market.values()):
            return g
        tl = self.tl
        nxt = self._next_signal(bisect.bisect_left(tl.signal_order, g))
        due = self.learner.due_ms() if self.learner is not None else None
        if due is not None:
            # the step whose close is the first at or after the learner's due time
            nxt = min(nxt, max(g, tl.step_at_or_after(due - tl.step_ms)))
        if not state.positions:
            return nxt
        nxt = min(nxt, tl.next_close_day_step(g))
        risk = self.risk
        hold_ms = risk.max_hold_ms - tl.step_ms
        p = state.protections
        guard = not p.halted and p.day_start_equity > 0
        headroom = 0.0
        if guard:
            floor = p.day_start_equity * (1 - risk.daily_drawdown_halt)
            headroom = max(0.0, run.equity() - floor) / len(state.positions)
        for pos in state.positions:
            if pos.closing_reason is not None:
                return g
            sym = pos.symbol
            ser = self.series[sym]
            steps = tl.steps[sym]
            bound = min(nxt, self._step_at(pos.entry_time_ms + hold_ms))
            # The last candle before a gap sets the mark the engine keeps using: see it.
            bound = min(bound, tl.next_segment_end(sym, g))
            vpos = venue.positions.get(sym)
            if vpos is not None:
                bound = min(bound, self._step_at(vpos.next_funding_ms))
            if tl.regular:
                r0, r_end = g, bound
            else:
                r0 = int(np.searchsorted(steps, g))
                r_end = int(np.searchsorted(steps, bound))
            low_t, high_t = venue.trigger_levels(sym)
            c_low, c_high = self._close_wake_levels(pos)
            if guard:
                move = headroom / as_float(pos.quantity) * (1 - 1e-9)
                if int(pos.side) > 0:
                    c_low = max(c_low, pos.mark_price - move)
                else:
                    c_high = min(c_high, pos.mark_price + move)
            k = first_wake(ser.low, ser.high, ser.close, r0, r_end, low_t, high_t, c_low, c_high)
            # A deadline already passed (the symbol had no candle then) is due at its next candle.
            nxt = min(nxt, int(steps[k]) if k < r_end else max(bound, g))
        return nxt

    def _next_signal(self, i: int) -> int:
        """The first scheduled signal step from `signal_order[i]` on that the engine could act on.

        Entries are paused at a close `now` while now < cooldown_until_ms, or, once halted, until
        the UTC day of `day_start_ms` ends (the next day's first close resets the halt). A step
        cannot lift a pause, only add one, so a pause read from the current state holds at every
        step up to its end."""
        tl = self.tl
        order = tl.signal_order
        state = self.run.state
        p = state.protections
        paused_until = p.cooldown_until_ms
        if p.halted:
            paused_until = max(paused_until, p.day_start_ms + DAY_MS)
        if i >= len(order) or paused_until <= state.time_ms:
            return order[i] if i < len(order) else len(tl)
        held = {pos.symbol for pos in state.positions}
        while i < len(order):
            step = order[i]
            now = max(state.time_ms, tl.times.item(step) + tl.step_ms)
            if now >= paused_until or not held.isdisjoint(tl.signal_steps[step]):
                return step
            i += 1
        return len(tl)

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
