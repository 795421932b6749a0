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

The stored candles have no trades, yet a kline also reports a quote volume, a trade count,
trade ids and taker-buy volumes. They are derived here, once, by the pure functions below
(`quote_volume`, `trade_count`, `trade_ids`, `taker_buy`), and carried on every `Kline`, so
that the REST klines, the 24 h ticker and the kline streams state the same numbers for the
same candle: a client that backfills over REST and then follows the stream sees no seam.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from slt.domain import CandleSeries
from slt.domain.candle import interval_ms
from slt.venues.local.clock import ReplayClock
from slt.venues.local.errors import api_error

BASE_MS = 60_000
LEGS = 3
SECOND_MS = 1000
ROWS_ONE_BY_ONE = 64
"""Up to this many closed 1m rows an aggregate reads them one by one (`_aggregate`)."""
TRADES_PER_CANDLE = BASE_MS // SECOND_MS
"""Synthetic trades of a closed 1m candle with volume: one per market second."""

Num = TypeVar("Num", float, NDArray[np.float64])


# derived kline fields -------------------------------------------------------------------------
def quote_volume(o: Num, h: Num, low: Num, c: Num, volume: Num) -> Num:
    """Quote volume of a 1m candle (elementwise over arrays): volume × typical price, the
    typical price being (open + high + low + close) / 4.

    Without trades the true Σ price × qty is unknown; it lies between low × volume and high ×
    volume. The typical price weighs the four prices the candle is known to have traded at, so
    it estimates the volume-weighted price better than the close alone, which is only where the
    minute happened to end and misses everything traded on the way there; like any price of the
    candle it keeps `quote / volume` (the ticker's weighted average price) inside [low, high].
    A forming candle uses its prices as revealed so far."""
    return volume * (o + h + low + c) / 4


def trade_count(volume: float, elapsed_ms: int) -> int:
    """Synthetic trades of a 1m candle after `elapsed_ms` of it: one per market second begun
    while the candle has volume (`TRADES_PER_CANDLE` once closed, 0 without volume).

    One trade a second makes the count grow with time exactly as the revealed volume does, so a
    forming candle's count never runs ahead of its close, and it is the same at any replay
    speed (it depends on market time only)."""
    if volume <= 0 or elapsed_ms <= 0:
        return 0
    return min(-(-elapsed_ms // SECOND_MS), TRADES_PER_CANDLE)


def trade_ids(open_time: int, trades: int) -> tuple[int, int]:
    """(first, last) trade id of a 1m candle opened at `open_time` with `trades` trades; (−1, −1)
    without trades, as Binance reports an empty range.

    A synthetic trade's id is its market second since the epoch: unique, increasing from candle
    to candle, and the same whatever range of data is loaded (an id does not depend on where the
    replay starts). Seconds without a trade (minutes without volume or without data) have no id,
    so over such a gap `last − first + 1` exceeds the count."""
    if trades <= 0:
        return -1, -1
    first = open_time // SECOND_MS
    return first, first + trades - 1


def taker_buy(amount: float) -> float:
    """Taker-buy share of a volume (base or quote): half. The data has no trade sides, and half
    is what a market without a buying or selling bias shows."""
    return amount / 2


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
    quote_volume: float
    """`quote_volume` of the 1m candles in it (module docstring)."""
    trades: int
    """`trade_count` summed over the 1m candles in it."""
    first_trade_id: int
    """`trade_ids` of its first 1m candle with trades (−1 when none)."""
    last_trade_id: int
    """`trade_ids` of its last 1m candle with trades (−1 when none)."""

    @property
    def taker_buy_volume(self) -> float:
        return taker_buy(self.volume)

    @property
    def taker_buy_quote_volume(self) -> float:
        return taker_buy(self.quote_volume)


def combine(
    parts: Sequence[Kline], interval: str, open_time: int, close_time: int, closed: bool
) -> Kline:
    """The candle made of `parts` (consecutive, oldest first, at least one): first open, extreme
    high and low, last close, and volumes and trade counts summed; the trade ids run from the
    first part with trades to the last one with trades."""
    traded = [p for p in parts if p.trades > 0]
    return Kline(
        parts[0].symbol,
        interval,
        open_time,
        close_time,
        parts[0].open,
        max(p.high for p in parts),
        min(p.low for p in parts),
        parts[-1].close,
        sum(p.volume for p in parts),
        closed,
        quote_volume=sum(p.quote_volume for p in parts),
        trades=sum(p.trades for p in parts),
        first_trade_id=traded[0].first_trade_id if traded else -1,
        last_trade_id=traded[-1].last_trade_id if traded else -1,
    )


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
        self.mark_premium: dict[str, float] = {}
        """Symbol → fraction by which mark exceeds last (fault injection; empty = mark is last)."""

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
        closed = fraction >= 1.0
        hi, lo, last = (h, low, c) if closed else revealed(o, h, low, c, f)
        volume = float(s.volume[i]) * f
        trades = trade_count(volume, round(f * BASE_MS))
        first, last_id = trade_ids(ot, trades)
        return Kline(
            s.symbol,
            "1m",
            ot,
            ot + BASE_MS - 1,
            o,
            hi,
            lo,
            last,
            volume,
            closed,
            quote_volume=quote_volume(o, hi, lo, last, volume),
            trades=trades,
            first_trade_id=first,
            last_trade_id=last_id,
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
        """Mark price. The replay has no index prices, so it is the last price, times
        `1 + mark_premium[symbol]` where a test sets a premium (to move mark away from last
        and exercise what depends on the gap: PERCENT_PRICE on taking orders, -4131)."""
        last = self.last_price(symbol, now_ms)
        premium = self.mark_premium.get(symbol, 0.0)
        return last if last is None or not premium else last * (1.0 + premium)

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
        period = _period(interval)
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

    def kline(
        self, symbol: str, interval: str, open_time: int, now_ms: int | None = None
    ) -> Kline | None:
        """The `interval` candle opened at `open_time` (a multiple of the period) as revealed at
        `now_ms`, exactly as `klines` shows it; None while none of its 1m candles is visible.
        What a kline stream reports: one candle, found without scanning the series."""
        period = _period(interval)
        s = self.get(symbol)
        now = self.now_ms() if now_ms is None else now_ms
        a = int(np.searchsorted(s.open_time, open_time, "left"))
        b = int(np.searchsorted(s.open_time, min(open_time + period - 1, now), "right"))
        if b <= a:
            return None
        return self._aggregate(s, interval, open_time, period, a, b, now)

    def _aggregate(
        self, s: CandleSeries, interval: str, start: int, period: int, a: int, b: int, now: int
    ) -> Kline:
        """The candle of rows [a, b) (all visible at `now`). Closed rows are taken one by one
        when few (an aggregate then sums exactly the floats its 1m rows show, in order) and as
        arrays when many (a month of 1m rows per stream update would be slow one by one)."""
        full = int(np.searchsorted(s.open_time, now - BASE_MS, "right"))  # rows closed by now
        full = min(max(full, a), b)
        parts: list[Kline] = []
        if full - a > ROWS_ONE_BY_ONE:
            parts.append(self._closed_rows(s, a, full))
        else:
            parts.extend(self._revealed(s, i, 1.0) for i in range(a, full))
        parts.extend(
            self._revealed(s, i, (now - int(s.open_time[i])) / BASE_MS) for i in range(full, b)
        )
        return combine(parts, interval, start, start + period - 1, now >= start + period)

    def _closed_rows(self, s: CandleSeries, a: int, b: int) -> Kline:
        """Closed 1m rows [a, b) combined as arrays, with the same definitions as `_revealed`."""
        o, h, low, c, v = (x[a:b] for x in (s.open, s.high, s.low, s.close, s.volume))
        traded = np.flatnonzero(v > 0)
        ends = traded[[0, -1]] if len(traded) else traded
        ids = [trade_ids(int(s.open_time[a + j]), TRADES_PER_CANDLE) for j in ends]
        return Kline(
            s.symbol,
            "1m",
            int(s.open_time[a]),
            int(s.open_time[b - 1]) + BASE_MS - 1,
            float(o[0]),
            float(h.max()),
            float(low.min()),
            float(c[-1]),
            float(v.sum()),
            True,
            quote_volume=float(quote_volume(o, h, low, c, v).sum()),
            trades=TRADES_PER_CANDLE * len(traded),
            first_trade_id=ids[0][0] if ids else -1,
            last_trade_id=ids[-1][1] if ids else -1,
        )

    def window(self, symbol: str, span_ms: int, now_ms: int | None = None) -> Sequence[Kline]:
        """The 1m candles of the last `span_ms` up to `now_ms` (the rolling 24 h ticker)."""
        now = self.now_ms() if now_ms is None else now_ms
        return self.klines(symbol, "1m", start_ms=now - span_ms + 1, limit=10**9, now_ms=now)


def _period(interval: str) -> int:
    """The interval's length in ms, or Binance's -1120 for one it does not know."""
    try:
        return interval_ms(interval)
    except ValueError:
        raise api_error(-1120) from None
