"""Where the Feed gets candles it missed: the local store first, REST klines only if allowed.

Design principle 5: zero REST kline calls in live mode by default. A gap (a dropped
connection, a restart) is filled from the candle store, which the Feed itself keeps current
(`CandleWriter`) and `slt data import` fills; only when `DISABLE_REST_FALLBACK=false` does a
gap the store cannot fill go to `GET /fapi/v1/klines`, charged to the request-weight governor
before each call. Neither source may stop the Feed: a failure is logged, and the candles stay
missing (counted) rather than the process dying.

`CandleWriter` persists the closed candles the Feed receives in batches (a transaction of at
most `ROWS_PER_TRANSACTION` candles, one statement), so a later gap can be filled from the
store and a restart can seed its firewall from the last stored candle.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any, Protocol

import numpy as np

from slt.domain import Candle, CandleSeries
from slt.domain.candle import interval_ms
from slt.storage import CandleStore
from slt.venues.binance.rest import BinanceRest

log = logging.getLogger(__name__)
ROWS_PER_TRANSACTION = 2_000
"""A flush commits at most about this many candles at a time (whole symbols, at least one), in
one statement. On SQLite a transaction holds the database's one write lock, which the Brain's
order commit needs: a minute's 300 candles as one executemany hold it for about a millisecond,
where a statement per symbol held it for tens."""
PAUSE_BETWEEN_S = 0.002
"""Between the transactions of a long flush (a gap filled, the store back after an outage) the
lock is left free this long, so a waiting writer gets in (it polls every millisecond at most,
`slt.storage.sqlite_writer`) instead of waiting for the whole flush."""

MAX_KLINES = 1500
"""Binance's largest `limit` for one klines call."""


def klines_weight(limit: int) -> int:
    """Request weight of `GET /fapi/v1/klines` by `limit` (protocol §4)."""
    if limit < 100:
        return 1
    if limit < 500:
        return 2
    if limit <= 1000:
        return 5
    return 10


class KlineSource(Protocol):
    """Closed candles of one symbol with `start_ms <= open_time < end_ms`, oldest first."""

    weight_used: int

    async def klines(
        self, symbol: str, interval: str, start_ms: int, end_ms: int
    ) -> list[Candle]: ...


class RestKlines:
    """`GET /fapi/v1/klines` through `BinanceRest`'s ccxt client, paced by its governor."""

    def __init__(self, rest: BinanceRest) -> None:
        self.rest = rest
        self.weight_used = 0
        self.calls = 0

    async def klines(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        step = interval_ms(interval)
        out: list[Candle] = []
        start = start_ms
        while start < end_ms:
            limit = min(MAX_KLINES, -(-(end_ms - start) // step))
            weight = klines_weight(limit)
            await self.rest.governor.acquire(weight)
            self.weight_used += weight
            self.calls += 1
            params = {"symbol": symbol, "interval": interval, "startTime": start,
                      "endTime": end_ms - 1, "limit": limit}  # fmt: skip
            rows: list[list[Any]] = await self.rest.client.fapiPublicGetKlines(params)
            page = [_row_candle(symbol, r) for r in rows]
            out += [c for c in page if start_ms <= c.open_time < end_ms]
            if len(rows) < limit:
                break
            start = int(rows[-1][0]) + step
        return out


def _row_candle(symbol: str, row: list[Any]) -> Candle:
    o, h, lo, c, v = (float(x) for x in row[1:6])
    return Candle(symbol, int(row[0]), int(row[6]), o, h, lo, c, v)


async def load_stored(
    store: CandleStore, symbol: str, interval: str, start_ms: int, end_ms: int, timeout_s: float
) -> list[Candle]:
    """Stored candles in [start_ms, end_ms), or [] when the store fails or is too slow."""
    try:
        async with asyncio.timeout(timeout_s):
            series = await store.load(symbol, interval, start_ms, end_ms)
    except Exception as exc:  # the store must never stop the Feed
        log.warning("candle store unavailable for %s (%s); gap left to other sources", symbol, exc)
        return []
    return [series.candle(i) for i in range(len(series))]


class CandleWriter:
    """Closed candles buffered and written to the store in batches (module docstring)."""

    def __init__(self, store: CandleStore, interval: str, max_buffer: int = 200_000) -> None:
        self.store = store
        self.interval = interval
        self.max_buffer = max_buffer
        self._buffer: list[Candle] = []
        self.written = 0
        self.failures = 0
        self.dropped = 0

    def add(self, candle: Candle) -> None:
        self._buffer.append(candle)
        if len(self._buffer) > self.max_buffer:  # the store is away for long: keep the newest
            del self._buffer[0]
            self.dropped += 1

    def __len__(self) -> int:
        return len(self._buffer)

    async def flush(self) -> int:
        """Write everything buffered (`_transactions`); new rows. On failure the candles of
        the transactions not committed stay buffered for the next flush."""
        if not self._buffer:
            return 0
        batch, self._buffer = self._buffer, []
        groups = _series_of(batch, self.interval)
        new = done = 0
        try:
            for part in _transactions(groups):
                if done:
                    await asyncio.sleep(PAUSE_BETWEEN_S)
                async with self.store.engine.begin() as conn:
                    new += await self.store.write_all_in(conn, part)
                done += len(part)
        except asyncio.CancelledError:  # stopped mid-write: the final flush writes them
            self._buffer = _candles_of(groups[done:]) + self._buffer
            raise
        except Exception as exc:
            self.failures += 1
            self.written += new  # the groups committed before the failure
            self._buffer = _candles_of(groups[done:]) + self._buffer
            if self.failures == 1 or self.failures % 100 == 0:
                log.warning(
                    "cannot persist %d candles (failure %d): %s", len(batch), self.failures, exc
                )
            return 0
        self.written += new
        return new


def _transactions(groups: list[CandleSeries]) -> list[list[CandleSeries]]:
    """`groups` cut into runs of whole series of at most `ROWS_PER_TRANSACTION` rows (a longer
    series alone: `CandleStore` chunks it within its transaction)."""
    out: list[list[CandleSeries]] = []
    rows = ROWS_PER_TRANSACTION
    for series in groups:
        if rows + len(series) > ROWS_PER_TRANSACTION:
            out.append([])
            rows = 0
        out[-1].append(series)
        rows += len(series)
    return out


def _candles_of(groups: list[CandleSeries]) -> list[Candle]:
    """The candles of `groups` back as a buffer (a flush that failed part-way)."""
    return [series.candle(i) for series in groups for i in range(len(series))]


def _series_of(candles: list[Candle], interval: str) -> list[CandleSeries]:
    by_symbol: dict[str, dict[int, Candle]] = defaultdict(dict)
    for c in candles:
        by_symbol[c.symbol].setdefault(c.open_time, c)
    out = []
    for symbol, rows in by_symbol.items():
        cs = [rows[t] for t in sorted(rows)]
        out.append(
            CandleSeries(
                symbol,
                interval,
                np.array([c.open_time for c in cs], dtype=np.int64),
                np.array([c.open for c in cs], dtype=np.float64),
                np.array([c.high for c in cs], dtype=np.float64),
                np.array([c.low for c in cs], dtype=np.float64),
                np.array([c.close for c in cs], dtype=np.float64),
                np.array([c.volume for c in cs], dtype=np.float64),
            )
        )
    return out
