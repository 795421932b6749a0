"""The backtest's time grid: every symbol's candles placed on one global step index, and the
scan that finds the next step at which an open position could need the engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
from numba import njit
from numba.typed import List

from slt.domain import CandleSeries
from slt.domain.candle import DAY_MS, F64, I64
from slt.strategy.base import SignalColumns


@njit(cache=True)
def first_wake(
    low: F64,
    high: F64,
    close: F64,
    start: int,
    stop: int,
    low_trigger: float,
    high_trigger: float,
    close_low: float,
    close_high: float,
) -> int:
    """First row in [start, stop) whose range or close reaches a trigger; `stop` if none."""
    for k in range(start, stop):
        if (
            low[k] <= low_trigger
            or high[k] >= high_trigger
            or close[k] <= close_low
            or close[k] >= close_high
        ):
            return k
    return stop


@njit(cache=True)
def first_drawdown(
    closes: List[F64],
    rows: I64,
    entries: F64,
    quantities: F64,
    sides: F64,
    balance: float,
    day_start_equity: float,
    halt: float,
    start: int,
    stop: int,
) -> int:
    """First step in [start, stop) at whose close the book's equity could trip the daily
    drawdown halt; `stop` if none. Position j holds `quantities[j]` of the symbol whose close
    grid is `closes[rows[j]]`. The equity is `equity_of`'s: the balance plus the sum, in
    position order, of quantity × (close − entry) × side; the test is `check_drawdown`'s, with
    a margin that errs early. One compiled signature whatever the book's size."""
    limit = halt - 1e-9
    for k in range(start, stop):
        pnl = 0.0
        for j in range(rows.size):
            pnl += quantities[j] * (closes[rows[j]][k] - entries[j]) * sides[j]
        if (day_start_equity - (balance + pnl)) / day_start_equity >= limit:
            return k
    return stop


@dataclass(frozen=True)
class Timeline:
    """Global steps (sorted union of open times) and, per symbol, row <-> step maps."""

    times: I64
    step_ms: int
    rows: dict[str, I64]  # step -> row, −1 where the symbol has no candle
    steps: dict[str, I64]  # row -> step
    close_grid: dict[str, F64]  # close on the global grid, carried forward over gaps
    signal_steps: dict[int, tuple[str, ...]]  # step -> symbols with a signal at that close
    signal_order: list[int]
    segment_ends: dict[str, I64]  # steps holding a symbol's last candle before a gap or the end
    regular: bool = False
    """Every symbol has a candle at every step and the steps are evenly spaced (the usual
    case): row == step for every symbol and time lookups are arithmetic, not searches."""

    @classmethod
    def build(
        cls, series: Mapping[str, CandleSeries], signals: Mapping[str, SignalColumns]
    ) -> Timeline:
        symbols = sorted(series)
        first = series[symbols[0]].open_time
        step_ms = series[symbols[0]].interval_ms
        n = int(first.size)
        if (
            n > 0
            and int(first[-1]) - int(first[0]) == (n - 1) * step_ms
            and bool(np.all(np.diff(first) == step_ms))
            and all(np.array_equal(series[s].open_time, first) for s in symbols[1:])
        ):
            return cls._build_regular(series, signals, symbols, first, step_ms)
        times = np.unique(np.concatenate([series[s].open_time for s in symbols]))
        n = int(times.size)
        rows: dict[str, I64] = {}
        steps: dict[str, I64] = {}
        close_grid: dict[str, F64] = {}
        segment_ends: dict[str, I64] = {}
        for s in symbols:
            ser = series[s]
            pos = np.searchsorted(times, ser.open_time)
            idx = np.full(n, -1, dtype=np.int64)
            idx[pos] = np.arange(len(ser))
            rows[s] = idx
            steps[s] = pos.astype(np.int64)
            filled = np.maximum.accumulate(np.where(idx >= 0, idx, 0))
            close_grid[s] = ser.close[filled]
            present = idx >= 0
            ends = present & ~np.concatenate((present[1:], [False]))
            segment_ends[s] = np.nonzero(ends)[0].astype(np.int64)
        signal_steps = _signal_schedule(symbols, steps, signals, after=-1)
        return cls(
            times=times,
            step_ms=step_ms,
            rows=rows,
            steps=steps,
            close_grid=close_grid,
            signal_steps=signal_steps,
            signal_order=sorted(signal_steps),
            segment_ends=segment_ends,
        )

    @classmethod
    def _build_regular(
        cls,
        series: Mapping[str, CandleSeries],
        signals: Mapping[str, SignalColumns],
        symbols: list[str],
        times: I64,
        step_ms: int,
    ) -> Timeline:
        """Every symbol on one gapless, evenly spaced grid: row == step everywhere, so the maps
        are one shared identity array, the close grid is the close column itself and each
        symbol's only segment ends at the last step. Building the general maps (a search, a
        scatter and a carried-forward copy per symbol) would cost more than many runs' steps."""
        n = int(times.size)
        identity = np.arange(n, dtype=np.int64)
        steps = dict.fromkeys(symbols, identity)
        signal_steps = _signal_schedule(symbols, steps, signals, after=-1)
        return cls(
            regular=True,
            times=times,
            step_ms=step_ms,
            rows=dict.fromkeys(symbols, identity),
            steps=steps,
            close_grid={s: series[s].close for s in symbols},
            signal_steps=signal_steps,
            signal_order=sorted(signal_steps),
            segment_ends=dict.fromkeys(symbols, np.array([n - 1], dtype=np.int64)),
        )

    def row(self, symbol: str, g: int) -> int:
        """The symbol's row at step `g`, −1 when it has no candle there."""
        return g if self.regular else int(self.rows[symbol][g])

    def with_signals(self, signals: Mapping[str, SignalColumns], after: int) -> Timeline:
        """The same grid with the signal schedule after step `after` taken from `signals`
        (a strategy whose model changed at that step); steps up to `after` keep theirs."""
        kept = {g: syms for g, syms in self.signal_steps.items() if g <= after}
        fresh = _signal_schedule(sorted(self.steps), self.steps, signals, after=after)
        merged = kept | fresh
        return replace(self, signal_steps=merged, signal_order=sorted(merged))

    def __len__(self) -> int:
        return int(self.times.size)

    def next_segment_end(self, symbol: str, g: int) -> int:
        """The step ≥ g holding the symbol's last candle before a gap (its mark freezes there)."""
        if self.regular:
            n = int(self.times.size)
            return n - 1 if g < n else n
        ends = self.segment_ends[symbol]
        i = int(np.searchsorted(ends, g))
        return int(ends[i]) if i < ends.size else len(self)

    def step_at_or_after(self, time_ms: int) -> int:
        """First step whose open time is ≥ `time_ms` (len(self) when none)."""
        if self.regular:
            ahead = time_ms - self.times.item(0)
            return min(max(0, -(-ahead // self.step_ms)), int(self.times.size))
        return int(np.searchsorted(self.times, time_ms))

    def next_close_day_step(self, g: int) -> int:
        """First step ≥ g whose close falls in a later UTC day than step g−1's close."""
        last_close = self.times.item(g - 1) + self.step_ms if g > 0 else self.times.item(0)
        midnight = last_close - last_close % DAY_MS + DAY_MS
        return self.step_at_or_after(midnight - self.step_ms)


def _signal_schedule(
    symbols: list[str],
    steps: Mapping[str, I64],
    signals: Mapping[str, SignalColumns],
    *,
    after: int,
) -> dict[int, tuple[str, ...]]:
    """Step -> symbols (in `symbols` order) with a non-zero signal at that close, for steps
    after `after`. Tuples, not lists: a tuple of strings leaves the garbage collector's books
    at its first collection, where thousands of lists would stay on them for the whole run."""
    schedule: dict[int, list[str]] = {}
    for s in symbols:
        # the same rows as nonzero(direction); numpy finds them several times faster in a
        # boolean array than in the int8 column itself
        at = steps[s][np.nonzero(signals[s].direction != 0)[0]]
        for g in at[at > after].tolist():
            schedule.setdefault(g, []).append(s)
    return {g: tuple(syms) for g, syms in schedule.items()}
