"""Row rules for candles, applied to whole numpy columns at once.

Each rejected row gets exactly one reason, the first rule it breaks in the order below, so a
report reads like a checklist rather than a pile of consequences of one typo. The rules are
the ones the shared market data was checked against (see shared/data/README.md): a store that
only ever holds rows passing them lets every later stage skip defensive checks.

Open times may arrive in milliseconds or microseconds (Binance's public dumps switched to µs
in 2025). The unit is decided per row by magnitude: 10**14 ms is the year 5138 while 10**14 µs
is 1973, so no real candle is ambiguous. Alignment is checked in the row's own unit, because
flooring a µs time to ms first would make 12:00:00.000500 look aligned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from slt.domain.candle import F64, I64

US_THRESHOLD = 10**14
"""Open times at or above this are microseconds; below it, milliseconds."""

_BOOL = npt.NDArray[np.bool_]
_PRICE_NAMES = ("open", "high", "low", "close")


def fmt_ms(ms: int) -> str:
    """UTC wall time of an epoch-ms instant, for messages a person reads."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row: the file, its 1-based physical line and why it was refused."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Gap:
    """Missing candles: every open time from `first_missing_ms` to `last_missing_ms` inclusive."""

    first_missing_ms: int
    last_missing_ms: int
    interval_ms: int

    @property
    def missing(self) -> int:
        return (self.last_missing_ms - self.first_missing_ms) // self.interval_ms + 1

    def __str__(self) -> str:
        return (
            f"{fmt_ms(self.first_missing_ms)} .. {fmt_ms(self.last_missing_ms)} "
            f"({self.missing} candles missing)"
        )


@dataclass(frozen=True, slots=True)
class RawColumns:
    """Numeric rows as parsed, before any rule: open time in its file unit, line numbers."""

    open_time: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    line: I64


@dataclass(frozen=True, slots=True)
class CleanColumns:
    """Rows that passed every rule, sorted by open time (ms), one row per open time."""

    open_time: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    errors: tuple[tuple[int, str], ...]
    duplicates: int
    gaps: tuple[Gap, ...]
    time_unit: str  # "ms", "us", "mixed" or "none" (no rows)


def clean(raw: RawColumns, interval_ms: int, interval: str) -> CleanColumns:
    """Apply the row rules, collapse identical duplicates, sort, and find gaps."""
    bad, messages = _reject_reasons(raw, interval_ms, interval)
    errors = [(int(raw.line[i]), m) for i, m in messages.items()]

    is_us = raw.open_time >= US_THRESHOLD
    ot_ms = np.where(is_us, raw.open_time // 1000, raw.open_time)
    idx = np.nonzero(~bad)[0]
    idx = idx[np.argsort(ot_ms[idx], kind="stable")]
    idx, dup_errors, duplicates = _dedupe(raw, ot_ms, idx)
    errors.extend(dup_errors)
    errors.sort()

    open_time = np.ascontiguousarray(ot_ms[idx], dtype=np.int64)
    n_us = int(np.count_nonzero(is_us[idx]))
    unit = "none" if idx.size == 0 else "us" if n_us == idx.size else "mixed" if n_us else "ms"
    return CleanColumns(
        open_time=open_time,
        open=np.ascontiguousarray(raw.open[idx]),
        high=np.ascontiguousarray(raw.high[idx]),
        low=np.ascontiguousarray(raw.low[idx]),
        close=np.ascontiguousarray(raw.close[idx]),
        volume=np.ascontiguousarray(raw.volume[idx]),
        errors=tuple(errors),
        duplicates=duplicates,
        gaps=find_gaps(open_time, interval_ms),
        time_unit=unit,
    )


def find_gaps(open_time: I64, interval_ms: int) -> tuple[Gap, ...]:
    """Ranges of missing open times in a sorted, de-duplicated column."""
    if open_time.size < 2:
        return ()
    steps = np.diff(open_time)
    at = np.nonzero(steps != interval_ms)[0]
    return tuple(
        Gap(int(open_time[i]) + interval_ms, int(open_time[i + 1]) - interval_ms, interval_ms)
        for i in at
    )


def _reject_reasons(
    raw: RawColumns, interval_ms: int, interval: str
) -> tuple[_BOOL, dict[int, str]]:
    """A mask of rejected rows and, per rejected row index, its first broken rule."""
    o, h, lo, c, v, t = raw.open, raw.high, raw.low, raw.close, raw.volume, raw.open_time
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
        finite &= np.isfinite(v)
        unit = np.where(t >= US_THRESHOLD, 1000, 1)
        checks: list[tuple[_BOOL, str]] = [
            (~finite, "nonfinite"),
            (t <= 0, "time"),
            (t % (interval_ms * unit) != 0, "align"),
            ((o <= 0) | (h <= 0) | (lo <= 0) | (c <= 0), "price"),
            (v < 0, "volume"),
            (h < lo, "high_low"),
            (h < np.maximum(o, c), "high_body"),
            (lo > np.minimum(o, c), "low_body"),
        ]
    bad = np.zeros(t.shape, dtype=np.bool_)
    for mask, _ in checks:
        bad |= mask
    messages: dict[int, str] = {}
    for i in np.nonzero(bad)[0]:
        rule = next(name for mask, name in checks if mask[i])
        messages[int(i)] = _message(rule, raw, int(i), interval_ms, interval)
    return bad, messages


def _message(rule: str, raw: RawColumns, i: int, interval_ms: int, interval: str) -> str:
    o, h, lo, c, v = (float(a[i]) for a in (raw.open, raw.high, raw.low, raw.close, raw.volume))
    t = int(raw.open_time[i])
    if rule == "nonfinite":
        names = (*_PRICE_NAMES, "volume")
        bad = [n for n, x in zip(names, (o, h, lo, c, v), strict=True) if not math.isfinite(x)]
        return f"{', '.join(bad)} is NaN or infinite"
    if rule == "time":
        return f"open_time {t} is not a positive UTC timestamp"
    if rule == "align":
        unit = "µs" if t >= US_THRESHOLD else "ms"
        return f"open_time {t} ({unit}) is not aligned to {interval} ({interval_ms} ms)"
    if rule == "price":
        bad = [f"{n} {x!r}" for n, x in zip(_PRICE_NAMES, (o, h, lo, c), strict=True) if x <= 0]
        return f"non-positive price: {', '.join(bad)}"
    if rule == "volume":
        return f"negative volume {v!r}"
    if rule == "high_low":
        return f"high {h!r} is below low {lo!r}"
    if rule == "high_body":
        return f"high {h!r} is below max(open, close) {max(o, c)!r}"
    return f"low {lo!r} is above min(open, close) {min(o, c)!r}"


def _dedupe(
    raw: RawColumns, ot_ms: I64, idx: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.intp], list[tuple[int, str]], int]:
    """Collapse identical repeats of an open time; reject every copy when the copies differ.

    When two rows claim the same candle with different values there is no way to tell which
    one the exchange really printed, so neither is trusted.
    """
    t = ot_ms[idx]
    repeat = np.nonzero(t[1:] == t[:-1])[0]
    if repeat.size == 0:
        return idx, [], 0
    drop = np.zeros(idx.size, dtype=np.bool_)
    errors: list[tuple[int, str]] = []
    duplicates = 0
    starts = sorted({int(j) for j in repeat if j == 0 or t[j - 1] != t[j]})
    for start in starts:
        end = start
        while end + 1 < t.size and t[end + 1] == t[start]:
            end += 1
        rows = idx[start : end + 1]
        values = {(raw.open[r], raw.high[r], raw.low[r], raw.close[r], raw.volume[r]) for r in rows}
        if len(values) == 1:
            drop[start + 1 : end + 1] = True
            duplicates += end - start
            continue
        drop[start : end + 1] = True
        lines = [int(raw.line[r]) for r in rows]
        for r in rows:
            others = ", ".join(str(n) for n in lines if n != int(raw.line[r]))
            errors.append(
                (
                    int(raw.line[r]),
                    f"open_time {int(t[start])} ({fmt_ms(int(t[start]))}) also on line "
                    f"{others} with different values",
                )
            )
    return idx[~drop], errors, duplicates
