"""Replayed market data: what the local exchange knows about prices at a given market time.

The store holds closed 1m candles. Between a candle's open and close the exchange must still
show a moving price (the kline stream's updates, the last price, the mark price, stop
triggers), so each candle is walked along one deterministic intrabar path through its four
prices: open → low → high → close for a rising candle (close ≥ open), open → high → low →
close for a falling one, each leg a third of the interval, linear in between. That is the
usual assumption when only OHLC is known; every price the path visits is one the candle
really traded, and the revealed high, low and close at the candle's end are exactly the
stored ones. Volume is revealed in proportion to elapsed time.

A minute missing from the data has no candle: the price stays at the last close and no
kline is reported for it. Higher intervals are built from the 1m candles (a forming candle
included), as Binance aggregates them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from slt.domain import CandleSeries
from slt.domain.candle import interval_ms
from slt.venues.local.clock import ReplayClock
from slt.venues.local.errors import api_error

BASE_MS = 60_000
LEGS = 3


@dataclass(frozen=True, slots=True)
class Kline:
    """One candle as the exchange shows it at some market time; `closed` when it is final.

    Prices are floats as stored (the exchange formats them with the symbol's precision)."""

    symbol: str
    interval: str
    open_time: int
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    closed: bool


def path_points(o: float, h: float, low: float, c: float) -> tuple[float, float, float, float]:
    """The four vertices of a candle's intrabar path (module docstring)."""
    return (o, low, h, c) if c >= o else (o, h, low, c)


def path_price(o: float, h: float, low: float, c: float, fraction: float) -> float:
    """The price at `fraction` ∈ [0, 1] of the interval along the intrabar path."""
    pts = path_points(o, h, low, c)
    x = min(max(fraction, 0.0), 1.0) * LEGS
    leg = min(int(x), LEGS - 1)
    t = x - leg
    a, b = pts[leg], pts[leg + 1]
    # Weighted form: exact at both ends of a leg; clamped so rounding never leaves the leg.
    return min(max(a * (1.0 - t) + b * t, min(a, b)), max(a, b))


def revealed(
    o: float, h: float, low: float, c: float, fraction: float
) -> tuple[float, float, float]:
    """(high so far, low so far, last price) after `fraction` of the interval."""
    pts = path_points(o, h, low, c)
    x = min(max(fraction, 0.0), 1.0) * LEGS
    leg = min(int(x), LEGS - 1)
    last = path_price(o, h, low, c, fraction)
    seen = [*pts[: leg + 1], last]
    return max(seen), min(seen), last


class MarketReplay:
    """Stored 1m candles of several symbols, read at the market time of a `ReplayClock`."""

    def __init__(self, series: Mapping[str, CandleSeries], clock: ReplayClock) -> None:
        bad = sorted(s for s, ser in series.items() if ser.interval_ms != BASE_MS or not len(ser))
        if bad:
            raise ValueError(f"the local exchange replays non-empty 1m candles; not {bad}")
        self.series = dict(series)
        self.clock = clock

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self.series))

    @property
    def first_open_ms(self) -> int:
        return min(int(s.open_time[0]) for s in self.series.values())

    @property
    def last_close_ms(self) -> int:
        """The close time (exclusive) of the latest candle of any symbol: the replay's end."""
        return max(int(s.open_time[-1]) + BASE_MS for s in self.series.values())

    def get(self, symbol: str) -> CandleSeries:
        try:
            return self.series[symbol]
        except KeyError:
            raise api_error(-1121) from None

    def now_ms(self) -> int:
        return self.clock.now_ms()

    # the 1m candle at a time -----------------------------------------------------------------
    def _row(self, s: CandleSeries, t: int) -> int:
        """Index of the last candle opened at or before `t` (−1 before the first)."""
        return int(np.searchsorted(s.open_time, t, "right")) - 1

    def forming(self, symbol: str, now_ms: int | None = None) -> Kline | None:
        """The 1m candle whose interval contains `now_ms`, as revealed so far (closed when
        `now_ms` is past its end); None where the data has no candle for that minute."""
        s = self.get(symbol)
        t = self.now_ms() if now_ms is None else now_ms
        i = self._row(s, t)
        if i < 0 or t >= int(s.open_time[i]) + BASE_MS:
            return None
        return self._revealed(s, i, (t - int(s.open_time[i])) / BASE_MS)

    def _revealed(self, s: CandleSeries, i: int, fraction: float) -> Kline:
        ot = int(s.open_time[i])
        o, h, low, c = float(s.open[i]), float(s.high[i]), float(s.low[i]), float(s.close[i])
        f = min(max(fraction, 0.0), 1.0)
        hi, lo, last = revealed(o, h, low, c, f)
        closed = fraction >= 1.0
        return Kline(
            s.symbol,
            "1m",
            ot,
            ot + BASE_MS - 1,
            o,
            h if closed else hi,
            low if closed else lo,
            c if closed else last,
            float(s.volume[i]) * f,
            closed,
        )

    def last_price(self, symbol: str, now_ms: int | None = None) -> float | None:
        """The latest traded price: along the forming candle, else the last close; None
        before the symbol's first candle."""
        s = self.get(symbol)
        t = self.now_ms() if now_ms is None else now_ms
        i = self._row(s, t)
        if i < 0:
            return None
        elapsed = t - int(s.open_time[i])
        if elapsed >= BASE_MS:
            return float(s.close[i])
        o, h, low, c = float(s.open[i]), float(s.high[i]), float(s.low[i]), float(s.close[i])
        return path_price(o, h, low, c, elapsed / BASE_MS)

    def mark_price(self, symbol: str, now_ms: int | None = None) -> float | None:
        """Mark price. The replay has no index prices, so it is the last price."""
        return self.last_price(symbol, now_ms)

    def path_between(self, symbol: str, t0: int, t1: int) -> list[float]:
        """The prices the market goes through from `t0` to `t1`, in order: the price at `t0`,
        every path vertex in between and the price at `t1` (a candle boundary repeats a price
        where a close meets the next open). What a stop or a limit order resting over that
        span can be reached by; empty when `t1 <= t0`."""
        s = self.get(symbol)
        if t1 <= t0:
            return []
        first = max(self._row(s, t0), 0)
        last = self._row(s, t1)
        out: list[float] = []
        for i in range(first, last + 1):
            ot = int(s.open_time[i])
            o, h, low, c = float(s.open[i]), float(s.high[i]), float(s.low[i]), float(s.close[i])
            lo_f = max((t0 - ot) / BASE_MS, 0.0)
            hi_f = min((t1 - ot) / BASE_MS, 1.0)
            if hi_f <= lo_f:
                continue
            pts = path_points(o, h, low, c)
            out.append(path_price(o, h, low, c, lo_f))
            out.extend(pts[k] for k in range(1, LEGS) if lo_f < k / LEGS < hi_f)
            out.append(path_price(o, h, low, c, hi_f))
        return out

    # klines of any interval --------------------------------------------------------------------
    def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 500,
        now_ms: int | None = None,
    ) -> list[Kline]:
        """Candles of `interval` as `GET /fapi/v1/klines` returns them: open times in
        [start, end], oldest first, at most `limit`; without a start the latest `limit`.
        Only what exists at `now_ms` is shown: the last candle may still be forming."""
        try:
            period = interval_ms(interval)
        except ValueError:
            raise api_error(-1120) from None
        s = self.get(symbol)
        now = self.now_ms() if now_ms is None else now_ms
        visible = self._row(s, now) + 1
        if visible <= 0:
            return []
        ot = s.open_time[:visible]
        bucket = ot - ot % period
        starts, first = np.unique(bucket, return_index=True)
        ends = np.r_[first[1:], visible]
        lo = 0 if start_ms is None else int(np.searchsorted(starts, start_ms))
        hi = len(starts) if end_ms is None else int(np.searchsorted(starts, end_ms, "right"))
        if start_ms is None:
            lo = max(hi - limit, 0)
        hi = min(hi, lo + limit)
        return [
            self._aggregate(s, interval, int(starts[g]), period, int(first[g]), int(ends[g]), now)
            for g in range(lo, hi)
        ]

    def _aggregate(
        self, s: CandleSeries, interval: str, start: int, period: int, a: int, b: int, now: int
    ) -> Kline:
        parts = [self._revealed(s, i, (now - int(s.open_time[i])) / BASE_MS) for i in range(a, b)]
        return Kline(
            s.symbol,
            interval,
            start,
            start + period - 1,
            parts[0].open,
            max(p.high for p in parts),
            min(p.low for p in parts),
            parts[-1].close,
            sum(p.volume for p in parts),
            now >= start + period,
        )

    def window(self, symbol: str, span_ms: int, now_ms: int | None = None) -> Sequence[Kline]:
        """The 1m candles of the last `span_ms` up to `now_ms` (the rolling 24 h ticker)."""
        now = self.now_ms() if now_ms is None else now_ms
        return self.klines(symbol, "1m", start_ms=now - span_ms + 1, limit=10**9, now_ms=now)
