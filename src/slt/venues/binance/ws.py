"""Binance USDⓈ-M market-data WebSocket client: closed candles of many symbols, kept flowing.

Live trading acts on closed candles only, and must get every one of them while the network
does what networks do. So this client:

* subscribes through combined-stream URLs (`<base>/stream?streams=a/b/c`), splitting the
  `<symbol>@kline_<interval>` streams across as many connections as the per-connection stream
  limit (Binance: 1024) and a URL-length bound require; each URL is a "slot" with its own
  reconnect loop;
* decodes every frame with msgspec (`ws_frames`); a frame that is not a well-formed kline
  event of a stream it asked for is counted by reason (`Counters.malformed`) and dropped;
* turns updates into closed candles with `slt.feed.assembler.CandleAssembler`: a candle is
  closed by its final update (`x: true`) or, when that is late, by the first update of the
  next candle; each (stream, open time) is yielded once, in order; repeats, stale updates
  and late finals are counted, holes are counted (`gaps`) for the Feed to backfill, and the
  close lag (receipt − end of the candle) is tracked (`close_lag`);
* reconnects on any close or error with exponential backoff and jitter (bounded by
  `backoff_max_s`), and treats a connection silent for `stale_after_s` as dead; a lost
  connection's forming snapshots are forgotten, so a mid-minute snapshot is never published;
* rotates before the venue's connection lifetime ends (Binance: 24 h): after
  `rotate_after_s` it opens the replacement, keeps reading both, and closes the old one once
  the new one delivers. Both carry the same events meanwhile; the assembler's per-stream
  state drops the second copy (`rotation_repeats`), so nothing is lost or yielded twice;
* answers the server's pings: the websockets library replies to every ping with a pong
  carrying its payload, as Binance requires (§9.2); it sends no pings of its own
  (`ping_interval_s` None), since unsolicited frames count against the 10-per-second limit.

The base URL is configurable (`urls.VenueUrls.ws_market`): production
`wss://fstream.binance.com/market`, the testnet, or the local exchange
(`ws://127.0.0.1:<port>/market`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from slt.domain import Candle
from slt.domain.candle import INTERVAL_MS
from slt.feed.assembler import CandleAssembler
from slt.venues.binance.backoff import Backoff
from slt.venues.binance.urls import PRODUCTION, TESTNET, local
from slt.venues.binance.ws_frames import Counters, parse_kline, split_urls, stream_name

__all__ = [
    "PRODUCTION_MARKET_URL",
    "TESTNET_MARKET_URL",
    "Counters",
    "MarketStreamClient",
    "WsClientConfig",
    "local_market_url",
    "split_urls",
    "stream_name",
]

log = logging.getLogger(__name__)

PRODUCTION_MARKET_URL = PRODUCTION.ws_market
TESTNET_MARKET_URL = TESTNET.ws_market
BINANCE_ROTATE_AFTER_S = 23 * 3600 + 50 * 60
"""Ten minutes before Binance's 24 h disconnect: time for a replacement to connect."""


def local_market_url(port: int, host: str = "127.0.0.1") -> str:
    """The market route of the local exchange (`slt.venues.local`) on `host`:`port`."""
    return local(port, host).ws_market


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class WsClientConfig:
    """Connection layout, liveness, rotation and reconnect pacing (all in seconds)."""

    base_url: str = PRODUCTION_MARKET_URL
    max_streams_per_connection: int = 1024
    max_url_length: int = 7000
    """Split further when a URL would be longer (servers bound the request line, often 8 KiB)."""
    stale_after_s: float = 30.0
    """No frame for this long: the connection is dead, reconnect (kline updates come every
    250 ms while a candle forms)."""
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    backoff_factor: float = 2.0
    jitter: float = 0.5
    """Each wait is the backoff step times a uniform factor in [1 − jitter, 1]."""
    open_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    ping_interval_s: float | None = None
    use_env_proxy: bool = False
    queue_size: int = 100_000
    """Closed candles waiting for the reader; a full queue holds the sockets back (nothing is
    dropped)."""
    rotate_after_s: float | None = BINANCE_ROTATE_AFTER_S
    """Open a replacement connection this long after a connection opened (None: never)."""
    close_lag_from: Literal["receipt", "event"] = "receipt"
    """`receipt`: lag from the wall clock at receipt (a real-time venue); `event`: from the
    frame's event time `E` (a replay, whose market time is not the wall's)."""


class _Link:
    """One connection of a slot: set `opened` once connected, `delivered` on its first frame."""

    __slots__ = ("delivered", "opened", "task", "ws")

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.delivered = asyncio.Event()
        self.ws: ClientConnection | None = None
        self.task: asyncio.Task[None] | None = None


async def _first(*aws: Any) -> None:
    """Wait until the first of `aws` (tasks or coroutines) completes; cancel the helpers."""
    tasks = [a if isinstance(a, asyncio.Task) else asyncio.ensure_future(a) for a in aws]
    own = [t for t, a in zip(tasks, aws, strict=True) if t is not a]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in own:
            t.cancel()


class MarketStreamClient:
    """Closed candles of `symbols` × `intervals` from Binance's kline streams (module
    docstring). Use as `async with MarketStreamClient(...) as c: async for candle in c: ...`,
    or `start()` / `next_candle()` / `stop()` (then `pending()` for what was left queued)."""

    def __init__(
        self,
        symbols: Sequence[str],
        intervals: Sequence[str],
        config: WsClientConfig | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        bad = [i for i in intervals if i not in INTERVAL_MS]
        if bad or not symbols or not intervals:
            raise ValueError(f"need symbols and intervals among {list(INTERVAL_MS)}; got {bad}")
        self.config = config or WsClientConfig()
        self.streams = list(dict.fromkeys(stream_name(s, i) for s in symbols for i in intervals))
        self._wanted = frozenset(self.streams)
        self._assembler = CandleAssembler()
        self.counters = Counters(assembly=self._assembler.counts)
        self._rng = rng or random.Random()
        self._queue: asyncio.Queue[Candle] = asyncio.Queue(self.config.queue_size)
        self._tasks: list[asyncio.Task[None]] = []
        self._links: set[asyncio.Task[None]] = set()
        self._slot_streams: list[list[str]] = []
        self._open_links: list[int] = []
        self._overlap: list[bool] = []
        self.connected: list[bool] = []

    def urls(self) -> list[str]:
        c = self.config
        return split_urls(c.base_url, self.streams, c.max_streams_per_connection, c.max_url_length)

    def failure(self) -> BaseException | None:
        """The error a slot's supervisor died of (only a configuration error, such as an
        invalid URL, ends one), or None."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    def open_connections(self) -> int:
        """Connections open now (two for a slot while it rotates)."""
        return sum(self._open_links)

    def live_streams(self) -> int:
        """Streams on a slot with an open connection."""
        return sum(len(s) for s, up in zip(self._slot_streams, self.connected, strict=True) if up)

    # lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._tasks:
            return
        urls = self.urls()
        n = len(urls)
        self.connected, self._open_links, self._overlap = [False] * n, [0] * n, [False] * n
        self._slot_streams = [u.split("?streams=", 1)[1].split("/") for u in urls]
        self._tasks = [asyncio.create_task(self._run(i, u)) for i, u in enumerate(urls)]

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._links]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self.config.close_timeout_s + 1)
        self._tasks = []
        self._links.clear()

    async def __aenter__(self) -> MarketStreamClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def next_candle(self, timeout: float | None = None) -> Candle:
        """The next closed candle (TimeoutError after `timeout` seconds)."""
        async with asyncio.timeout(timeout):
            return await self._queue.get()

    def pending(self) -> list[Candle]:
        """Take every closed candle queued and not yet read, without waiting (the rest of a
        burst; after `stop`, the last ones)."""
        out = []
        while not self._queue.empty():
            out.append(self._queue.get_nowait())
        return out

    def __aiter__(self) -> AsyncIterator[Candle]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Candle]:
        while True:
            yield await self._queue.get()

    # connections -----------------------------------------------------------------------------
    def backoff(self, attempt: int) -> float:
        """Wait before reconnect attempt `attempt` (0-based): exponential, capped, jittered."""
        c = self.config
        pace = Backoff(c.backoff_initial_s, c.backoff_max_s, c.backoff_factor, c.jitter)
        return pace.delay(attempt, self._rng)

    def _spawn(self, index: int, url: str) -> _Link:
        link = _Link()
        task = asyncio.create_task(self._serve(index, url, link))
        link.task = task
        self._links.add(task)
        task.add_done_callback(self._links.discard)
        return link

    async def _opened(self, link: _Link) -> bool:
        """Wait until `link` is connected (True) or has failed to connect (False)."""
        assert link.task is not None
        await _first(link.opened.wait(), link.task)
        if not link.opened.is_set() and link.task.done() and not link.task.cancelled():
            link.task.result()  # re-raise a configuration error (InvalidURI)
        return link.opened.is_set()

    async def _run(self, index: int, url: str) -> None:
        """The slot's supervisor: connect, reconnect after a loss, rotate before the venue's
        lifetime ends (module docstring)."""
        attempt = 0
        lost_before = False
        link: _Link | None = None
        while True:
            if link is None:
                link = self._spawn(index, url)
                if not await self._opened(link):
                    self.counters.failed_attempts += 1
                    if attempt % 10 == 0:
                        log.warning("market stream %d: cannot connect (attempt %d)", index, attempt)
                    link = None
                    await asyncio.sleep(self.backoff(attempt))
                    attempt += 1
                    continue
                self.counters.connects += 1
                if lost_before:
                    self.counters.reconnects += 1
                    log.info("market stream %d reconnected", index)
                attempt = 0
            assert link.task is not None
            await asyncio.wait([link.task], timeout=self.config.rotate_after_s)
            if not link.task.done():
                link = await self._rotate(index, url, link)
                if link is not None:
                    continue
            else:
                link = None
            lost_before = True
            self._assembler.forget(self._slot_streams[index])
            await asyncio.sleep(self.backoff(attempt))
            attempt += 1

    async def _rotate(self, index: int, url: str, old: _Link) -> _Link | None:
        """Replace `old` by a new connection without a hole; the link that carries on (None
        when both are gone: the supervisor then reconnects)."""
        assert old.task is not None
        attempt = 0
        self._overlap[index] = True
        try:
            while True:
                new = self._spawn(index, url)
                assert new.task is not None
                await _first(new.delivered.wait(), new.task, old.task)
                if new.delivered.is_set() or (old.task.done() and not new.task.done()):
                    waiting = old.task.done() and not new.delivered.is_set()
                    if waiting and not await self._opened(new):
                        return None
                    self.counters.connects += 1
                    self.counters.rotations += 1
                    log.info("market stream %d rotated to a new connection", index)
                    if old.ws is not None:
                        await old.ws.close()
                    return new
                if old.task.done():
                    return None
                self.counters.failed_attempts += 1  # the replacement failed; old still serves
                await _first(asyncio.sleep(self.backoff(attempt)), old.task)
                attempt += 1
                if old.task.done():
                    return None
        finally:
            self._overlap[index] = False

    async def _serve(self, index: int, url: str, link: _Link) -> None:
        """Run one connection until it closes, fails or goes silent."""
        c = self.config
        try:
            async with connect(
                url,
                open_timeout=c.open_timeout_s,
                close_timeout=c.close_timeout_s,
                ping_interval=c.ping_interval_s,
                proxy=True if c.use_env_proxy else None,
                max_size=1 << 22,
            ) as ws:
                link.ws = ws
                link.opened.set()
                self._open_links[index] += 1
                self.connected[index] = True
                try:
                    while True:
                        try:
                            async with asyncio.timeout(c.stale_after_s):
                                raw = await ws.recv(decode=False)
                        except TimeoutError:
                            self.counters.stale += 1
                            return
                        link.delivered.set()
                        for candle in self._frame(raw, self._overlap[index]):
                            await self._queue.put(candle)
                finally:
                    self._open_links[index] -= 1
                    self.connected[index] = self._open_links[index] > 0
        except InvalidURI:
            raise
        except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
            return

    # decoding --------------------------------------------------------------------------------
    def _frame(self, raw: bytes | str, overlapping: bool) -> list[Candle]:
        dup = self.counters.assembly.duplicates
        out = self.decode_all(raw)
        if overlapping and self.counters.assembly.duplicates > dup:
            self.counters.rotation_repeats += self.counters.assembly.duplicates - dup
            self.counters.assembly.duplicates = dup
        return out

    def decode_all(self, raw: bytes | str, received_ms: int | None = None) -> list[Candle]:
        """Count one frame; the candles it closes, oldest first (module docstring).
        `received_ms` defaults to now or to the event time (`close_lag_from`)."""
        self.counters.messages += 1
        update = parse_kline(raw, self._wanted)
        if isinstance(update, str):
            self.counters.malformed[update] += 1
            return []
        if received_ms is None:
            received_ms = update.event_ms if self.config.close_lag_from == "event" else wall_ms()
        closed = self._assembler.update(update.stream, update.candle, update.final, received_ms)
        lag = self.counters.close_lag
        for c in closed:
            lag.record(c.received_ms, c.candle.close_time)
        return [c.candle for c in closed]

    def decode(self, raw: bytes | str) -> Candle | None:
        """`decode_all` for one frame, returning its newest closed candle (the only one unless
        the frame also closed the candle before it early; use `decode_all` to get both)."""
        got = self.decode_all(raw)
        return got[-1] if got else None
