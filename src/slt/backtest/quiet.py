"""Equity and exposure on the steps the driver skips.

On a skipped step the positions are unchanged and only prices move, so its equity is
balance + Σ qty × (close − entry) × side over the open positions, in position order, as
`equity_of` computes it on a processed step. The driver records each run of skipped steps with
the positions open during it, and all of them are filled in one compiled pass after the loop:
a few thousand short runs cost more in per-call array overhead than in arithmetic. The
arithmetic is the same IEEE operations in the same order (numba without fastmath neither
reorders nor fuses them), so the curve is the one the step-by-step fill gives.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit
from numba.typed import List

from slt.domain.candle import F64, I64
from slt.domain.numbers import as_float, remembered_float
from slt.engine.state import EngineState


@njit(cache=True)
def _fill(
    equity: F64,
    in_market: np.ndarray,
    closes: List[F64],
    seg_start: I64,
    seg_stop: I64,
    seg_balance: F64,
    seg_first: I64,
    seg_count: I64,
    pos_row: I64,
    pos_entry: F64,
    pos_qty: F64,
    pos_side: F64,
) -> None:
    # Position by position over each run, each symbol's close array fetched from the list
    # once per run rather than at every step: the sum at every step is still the first term,
    # then each further term added in position order, then the balance, each rounded to a
    # float64 as before (the partial sums wait in `equity`, a float64 array).
    for j in range(seg_start.size):
        start, stop = seg_start[j], seg_stop[j]
        first = seg_first[j]
        count = seg_count[j]
        balance = seg_balance[j]
        if count == 0:
            for g in range(start, stop):
                equity[g] = balance
            continue
        close = closes[pos_row[first]]
        entry, qty, side = pos_entry[first], pos_qty[first], pos_side[first]
        for g in range(start, stop):
            equity[g] = (close[g] - entry) * qty * side
        for k in range(first + 1, first + count):
            close = closes[pos_row[k]]
            entry, qty, side = pos_entry[k], pos_qty[k], pos_side[k]
            for g in range(start, stop):
                equity[g] = equity[g] + (close[g] - entry) * qty * side
        for g in range(start, stop):
            equity[g] = equity[g] + balance
            in_market[g] = True


class QuietSteps:
    """Runs of skipped steps, recorded during the loop and filled in after it."""

    def __init__(self, symbols: list[str]) -> None:
        self._row = {s: i for i, s in enumerate(symbols)}
        self._symbols = symbols
        # Per run: start, stop, balance, index of its first position and their count; per
        # position of a run: symbol row, entry, quantity and side. Flat lists of numbers, which
        # the garbage collector does not track: a tuple per run or position would be tracked
        # (thousands per backtest) until a collection found it holds only numbers, and would
        # bring those collections about.
        self._starts: list[int] = []
        self._stops: list[int] = []
        self._balances: list[float] = []
        self._firsts: list[int] = []
        self._counts: list[int] = []
        self._rows: list[int] = []
        self._entries: list[float] = []
        self._quantities: list[float] = []
        self._sides: list[float] = []

    def record(self, start: int, stop: int, state: EngineState) -> None:
        """Steps [start, stop) pass with `state`'s positions and balance unchanged."""
        got = remembered_float  # `got(v) or as_float(v)` is `as_float(v)` without a call
        b = state.balance
        positions = state.positions
        self._starts.append(start)
        self._stops.append(stop)
        self._balances.append(got(b) or as_float(b))
        self._firsts.append(len(self._rows))
        self._counts.append(len(positions))
        if positions:
            # one loop of appends, not a list comprehension per column: a run holds one to a
            # few positions, for which each comprehension's own call costs more than its work
            row = self._row
            rows, entries = self._rows.append, self._entries.append
            quantities, sides = self._quantities.append, self._sides.append
            for p in positions:
                rows(row[p.symbol])
                entries(got(p.entry_price) or as_float(p.entry_price))
                quantities(got(p.quantity) or as_float(p.quantity))
                sides(float(int(p.side)))

    def fill(self, close_grid: Mapping[str, F64], equity: F64, in_market: np.ndarray) -> None:
        """Write every recorded run's equity and exposure."""
        if not self._starts:
            return
        # the symbols' own close arrays, not a stacked copy of them (megabytes on long runs)
        closes = List([np.ascontiguousarray(close_grid[s]) for s in self._symbols])
        ints, floats = np.int64, np.float64
        _fill(
            equity,
            in_market,
            closes,
            np.asarray(self._starts, dtype=ints),
            np.asarray(self._stops, dtype=ints),
            np.asarray(self._balances, dtype=floats),
            np.asarray(self._firsts, dtype=ints),
            np.asarray(self._counts, dtype=ints),
            np.asarray(self._rows, dtype=ints),
            np.asarray(self._entries, dtype=floats),
            np.asarray(self._quantities, dtype=floats),
            np.asarray(self._sides, dtype=floats),
        )
