"""Helpers for the Feed tests: a stepped local exchange served on 127.0.0.1 (REST and
streams on one port), a migrated SQLite candle store, a real ring, and a Feed running
in-process until the test stops it. Every wait has a generous timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slt.domain import Candle
from slt.feed.service import FeedConfig, FeedService
from slt.ipc import CANDLE_RECORD, RingBuffer, candles_of
from slt.storage import CandleStore, create_engine, migrate
from slt.venues.binance.urls import local
from slt.venues.binance.ws import WsClientConfig
from slt.venues.local.assemble import RunningExchange, build_local_exchange, start_local_exchange
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.streams import StreamHub, StreamSettings

from ..venues.local.streams_helpers import MINUTE, T0, sample

TIMEOUT = 10.0
QUICK: dict[str, Any] = dict(
    backoff_initial_s=0.02, backoff_max_s=0.1, stale_after_s=10.0, open_timeout_s=2.0
)
SYMBOLS = tuple(sorted(sample()))

__all__ = ["MINUTE", "SYMBOLS", "T0", "TIMEOUT", "Rig", "expected", "rig"]


def expected(symbol: str, minute: int) -> Candle:
    s = sample()[symbol]
    i = int((s.open_time == T0 + minute * MINUTE).nonzero()[0][0])
    return s.candle(i)


async def wait_for(cond: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.005)


@dataclass
class Rig:
    ex: LocalExchange
    served: RunningExchange
    store: CandleStore
    ring: RingBuffer
    got: list[Candle]

    @property
    def hub(self) -> StreamHub:
        assert isinstance(self.ex.streams, StreamHub)
        return self.ex.streams

    def read(self) -> list[Candle]:
        """Everything newly published to the ring (also kept in `got`)."""
        new = candles_of(self.ring.read_batch())
        self.got += new
        return new

    async def step(self, minute: int, extra_ms: int = 0) -> None:
        """Move market time to T0 + `minute` minutes and let the stream pump run."""
        self.ex.clock.advance_to(T0 + minute * MINUTE + extra_ms)
        before = self.hub.pumps
        await wait_for(lambda: self.hub.pumps >= before + 2)

    async def collect(self, n: int) -> list[Candle]:
        """Wait until `n` more candles are in the ring; those candles."""
        start = len(self.got)

        def arrived() -> bool:
            self.read()
            return len(self.got) >= start + n

        await wait_for(arrived)
        return self.got[start:]

    def config(self, **kw: Any) -> FeedConfig:
        ws = WsClientConfig(
            base_url=local(self.served.port).ws_market, close_lag_from="event", **QUICK
        )
        return FeedConfig(SYMBOLS, "1m", ws, beat_interval_s=0.05, flush_interval_s=0.05, **kw)


@contextlib.asynccontextmanager
async def rig(tmp_path: Path, *, stored: bool = True) -> AsyncIterator[Rig]:
    """A served stepped exchange at T0, a store holding the sample (unless `stored` is
    False), and a ring of 4096 candles."""
    series = sample()
    ex = build_local_exchange(series, speed=0, start_ms=T0)
    ex.streams = StreamHub(ex, StreamSettings(tick_s=0.005))
    served = await start_local_exchange(ex)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'slt.db'}")
    await migrate(engine)
    store = CandleStore(engine)
    if stored:
        for s in series.values():
            await store.write(s)
    ring = RingBuffer.create(None, 4096, CANDLE_RECORD)
    try:
        yield Rig(ex, served, store, ring, [])
    finally:
        ring.close()
        await served.close()
        await engine.dispose()


@contextlib.asynccontextmanager
async def running_feed(service: FeedService) -> AsyncIterator[asyncio.Event]:
    """`service.run` as a task; stopped (and awaited) on exit."""
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
