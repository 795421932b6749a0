"""`FeedService.handle` with plain candles, no network: a full ring is counted, not fatal;
bad candles are refused by reason; a gap larger than the fill limit is filled from its
newest end by the REST source (a plain in-memory source here) and the rest counted; a
configuration error (a bad stream URL) ends the run with its error instead of idling."""

from __future__ import annotations

import asyncio

import pytest
from websockets.exceptions import InvalidURI

from slt.domain import Candle
from slt.feed.service import FeedConfig, FeedService
from slt.ipc import CANDLE_RECORD, RingBuffer, candles_of
from slt.venues.binance.ws import WsClientConfig

M = 60_000
T0 = 1_700_000_040_000


def bar(k: int, symbol: str = "BTCUSDT", close: float = 100.0) -> Candle:
    t = T0 + k * M
    return Candle(symbol, t, t + M - 1, close, close + 1, close - 1, close, 1.0)


class MemoryKlines:
    """A kline source over a fixed list, counting calls (what `RestKlines` does over REST)."""

    def __init__(self, candles: list[Candle]) -> None:
        self.candles = candles
        self.weight_used = 0
        self.asked: list[tuple[int, int]] = []

    async def klines(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[Candle]:
        self.weight_used += 1
        self.asked.append((start_ms, end_ms))
        return [c for c in self.candles if start_ms <= c.open_time < end_ms]


async def test_a_full_ring_is_counted_and_bad_candles_refused() -> None:
    ring = RingBuffer.create(None, 2, CANDLE_RECORD)
    try:
        service = FeedService(FeedConfig(("BTCUSDT",), "1m"), ring)
        for candle in (bar(0), bar(1), bar(2), bar(3, "XRPUSDT"), bar(3, close=-5.0)):
            await service.handle(candle)
        assert service.published == 2 and service.overruns == 1
        assert service.stats()["ring_overruns"] == 1
        assert dict(service.firewall.rejected) == {"unknown_symbol": 1, "price": 1}
        assert candles_of(ring.read_batch()) == [bar(0), bar(1)]
    finally:
        ring.close()


async def test_a_long_gap_is_filled_from_its_newest_end_within_the_limit() -> None:
    ring = RingBuffer.create(None, 64, CANDLE_RECORD)
    try:
        source = MemoryKlines([bar(k) for k in range(1, 10)])
        config = FeedConfig(("BTCUSDT",), "1m", rest_fallback=True, max_fill_candles=4)
        service = FeedService(config, ring, rest=source)
        await service.handle(bar(0))
        await service.handle(bar(10))
        got = candles_of(ring.read_batch())
        assert [c.open_time for c in got] == [T0 + k * M for k in (0, 6, 7, 8, 9, 10)]
        assert source.asked == [(T0 + 6 * M, T0 + 10 * M)]
        g = service.gaps
        assert (g.gaps, g.missing, g.from_rest, g.unfilled) == (1, 9, 4, 5)
    finally:
        ring.close()


async def test_rest_is_not_asked_when_fallback_is_off() -> None:
    ring = RingBuffer.create(None, 64, CANDLE_RECORD)
    try:
        source = MemoryKlines([bar(k) for k in range(1, 10)])
        service = FeedService(FeedConfig(("BTCUSDT",), "1m"), ring, rest=source)
        await service.handle(bar(0))
        await service.handle(bar(3))
        assert source.asked == [] and service.gaps.unfilled == 2
        assert [c.open_time for c in candles_of(ring.read_batch())] == [T0, T0 + 3 * M]
    finally:
        ring.close()


async def test_a_bad_stream_url_ends_the_run_with_its_error() -> None:
    ring = RingBuffer.create(None, 4, CANDLE_RECORD)
    try:
        ws = WsClientConfig(base_url="not-a-websocket-url")
        service = FeedService(FeedConfig(("BTCUSDT",), "1m", ws, beat_interval_s=0.01), ring)
        with pytest.raises(InvalidURI):
            await asyncio.wait_for(service.run(asyncio.Event()), 10)
        assert service.client.open_connections() == 0
    finally:
        ring.close()


class CountingWriter:
    """Stands in for the store's `CandleWriter`: records when each flush happened."""

    def __init__(self) -> None:
        self.flushed_at: list[float] = []

    def add(self, candle: Candle) -> None:
        pass

    async def flush(self) -> int:
        self.flushed_at.append(asyncio.get_running_loop().time())
        return 0


async def test_the_store_is_flushed_in_a_lull_not_during_a_burst_of_closes() -> None:
    """While candles keep coming (a minute's burst), the flush waits until none came for
    `flush_quiet_s`: on SQLite its write would hold the lock the Brain's order commit needs."""
    ring = RingBuffer.create(None, 4096, CANDLE_RECORD)
    try:
        config = FeedConfig(("BTCUSDT",), "1m", flush_interval_s=0.25, flush_quiet_s=0.1)
        service = FeedService(config, ring)
        writer = CountingWriter()
        service.writer = writer  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        start = loop.time()
        flusher = asyncio.create_task(service._flush_in_lulls())
        handled: list[float] = []
        while loop.time() < start + 0.35:  # a candle every 20 ms: never a lull of 100 ms
            await service.handle(bar(len(handled)))
            handled.append(loop.time())
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.4)
        flusher.cancel()
        assert writer.flushed_at, "no flush after the burst"
        first = writer.flushed_at[0]
        gave_up = first >= start + 2 * config.flush_interval_s  # a lull never came (a slow host)
        quiet = first - max(t for t in handled if t <= first)
        assert quiet >= 0.09 or gave_up, f"flushed {quiet:.3f} s after a candle, mid-burst"
    finally:
        ring.close()
