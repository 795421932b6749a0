"""Gap arithmetic for the Feed: which candles are missing, and what a fill brought back.

A gap is a run of missing open times between the last candle published for a symbol and
the next one that arrived. The Feed fills it from the local store first and, only when REST
fallback is enabled, from REST klines; whatever neither source has stays missing and is
counted (the Brain then sees a gap, as the firewall's verdict also reports). Keeping the
arithmetic here, pure, lets it be tested with plain numbers: times are int UTC ms, ranges
inclusive of both ends, as the firewall reports them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from slt.domain import Candle


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing candles of `symbol`: open times `first`..`last` inclusive, `step_ms` apart."""

    symbol: str
    first: int
    last: int
    step_ms: int

    @property
    def count(self) -> int:
        return (self.last - self.first) // self.step_ms + 1

    def open_times(self) -> list[int]:
        return list(range(self.first, self.last + 1, self.step_ms))

    @property
    def end_ms(self) -> int:
        """Exclusive upper bound for a range query: the open time after the last missing."""
        return self.last + self.step_ms


def gap_between(symbol: str, prev_open: int | None, open_time: int, step_ms: int) -> Gap | None:
    """The candles missing between a symbol's previous open time and `open_time`, or None
    when they are adjacent (or there is no previous candle, or `open_time` is not later)."""
    if prev_open is None or open_time <= prev_open + step_ms:
        return None
    return Gap(symbol, prev_open + step_ms, open_time - step_ms, step_ms)


def fill_plan(gap: Gap, have: Iterable[Candle]) -> tuple[list[Candle], list[Gap]]:
    """The candles of `have` that belong in `gap` (sorted, one per open time, aligned to the
    step) and the sub-ranges still missing after them, oldest first."""
    found: dict[int, Candle] = {}
    for c in have:
        t = c.open_time
        if (
            c.symbol == gap.symbol
            and gap.first <= t <= gap.last
            and (t - gap.first) % gap.step_ms == 0
        ):
            found.setdefault(t, c)
    still: list[Gap] = []
    run_start: int | None = None
    for t in gap.open_times():
        if t in found:
            if run_start is not None:
                still.append(Gap(gap.symbol, run_start, t - gap.step_ms, gap.step_ms))
                run_start = None
        elif run_start is None:
            run_start = t
    if run_start is not None:
        still.append(Gap(gap.symbol, run_start, gap.last, gap.step_ms))
    return [found[t] for t in sorted(found)], still


@dataclass
class GapCounts:
    """Gaps the Feed saw and how they were filled (candles, not gaps, unless named so)."""

    gaps: int = 0
    missing: int = 0
    from_store: int = 0
    from_rest: int = 0
    unfilled: int = 0

    @property
    def filled(self) -> int:
        return self.from_store + self.from_rest
