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
