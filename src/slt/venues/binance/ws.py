"""Binance USDⓈ-M market-data WebSocket client: closed candles of many symbols, kept flowing.

Live trading acts on closed candles only, and must get every one of them while the network
does what networks do. So this client:

* subscribes through combined-stream URLs (`<base>/stream?streams=a/b/c`), splitting the
  `<symbol>@kline_<interval>` streams across as many connections as the per-connection stream
  limit (Binance: 1024) and a URL-length bound require: 300 symbols × a few intervals is a few
  connections, each with its own reconnect loop;
* decodes every frame with msgspec into typed Structs; a frame that is not a well-formed kline
  event of a stream it asked for is counted by reason (`Counters.malformed`) and dropped;
* yields a `slt.domain.Candle` only for a kline's closing update (`x: true`), once: a repeat
  after a reconnect is dropped (`duplicates`), a hole is counted (`gaps`) for the feed layer
  to backfill;
* reconnects on any close or error with exponential backoff and jitter (bounded by
  `backoff_max_s`), and treats a connection silent for `stale_after_s` as dead;
* answers the server's pings: the websockets library replies to every ping with a pong
  carrying its payload, as Binance requires (§9.2) — the client sends no pings of its own
  (`ping_interval_s` None), since unsolicited frames count against the 10-per-second limit.

The base URL is configurable (`urls.VenueUrls.ws_market`): production
`wss://fstream.binance.com/market`, the testnet, or the local exchange
(`ws://127.0.0.1:<port>/market`).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from slt.domain import Candle
from slt.domain.candle import INTERVAL_MS
from slt.venues.binance.backoff import Backoff
from slt.venues.binance.urls import PRODUCTION, TESTNET, local

PRODUCTION_MARKET_URL = PRODUCTION.ws_market
TESTNET_MARKET_URL = TESTNET.ws_market


def local_market_url(port: int, host: str = "127.0.0.1") -> str:
    """The market route of the local exchange (`slt.venues.local`) on `host`:`port`."""
    return local(port, host).ws_market


@dataclass(frozen=True, slots=True)
class WsClientConfig:
    """Connection layout, liveness and reconnect pacing (all in seconds)."""

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


@dataclass
class Counters:
    """What the client has seen, for health checks and tests."""

    messages: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    closed_candles: int = 0
    duplicates: int = 0
    gaps: int = 0
    connects: int = 0
    reconnects: int = 0
    """Connections opened again after one was lost (a first connection is not counted)."""
    failed_attempts: int = 0
    stale: int = 0


class KlineBody(msgspec.Struct, frozen=True):
    t: int
    T: int
    s: str
    i: str
    o: str
    c: str
    h: str
    l: str  # noqa: E741 - Binance's field name
    v: str
    x: bool


class KlineEvent(msgspec.Struct, frozen=True, tag_field="e", tag="kline"):
    E: int
    s: str
    k: KlineBody


class Envelope(msgspec.Struct, frozen=True):
    stream: str
    data: msgspec.Raw


_ENVELOPE = msgspec.json.Decoder(Envelope)
_KLINE = msgspec.json.Decoder(KlineEvent)


def stream_name(symbol: str, interval: str) -> str:
    return f"{symbol.lower()}@kline_{interval}"


def split_urls(
    base_url: str, streams: Sequence[str], max_streams: int, max_url_length: int
) -> list[str]:
    """Combined-stream URLs covering `streams` in order, each within both limits."""
    prefix = base_url.rstrip("/") + "/stream?streams="
    urls: list[str] = []
    chunk: list[str] = []
    length = len(prefix)
    for name in streams:
        extra = len(name) + (1 if chunk else 0)
        if chunk and (len(chunk) >= max_streams or length + extra > max_url_length):
            urls.append(prefix + "/".join(chunk))
            chunk, length, extra = [], len(prefix), len(name)
        chunk.append(name)
        length += extra
    if chunk:
        urls.append(prefix + "/".join(chunk))
    return urls


class MarketStreamClient:
    """Closed candles of `symbols` × `intervals` from Binance's kline streams (module
    docstring). Use as `async with MarketStreamClient(...) as c: async for candle in c: ...`,
    or `start()` / `next_candle()` / `stop()`."""

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
        self.counters = Counters()
        self._rng = rng or random.Random()
        self._queue: asyncio.Queue[Candle] = asyncio.Queue(self.config.queue_size)
        self._last_open: dict[str, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self.connected: list[bool] = []

    def urls(self) -> list[str]:
        c = self.config
        return split_urls(c.base_url, self.streams, c.max_streams_per_connection, c.max_url_length)

    # lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._tasks:
            return
        urls = self.urls()
        self.connected = [False] * len(urls)
        self._tasks = [asyncio.create_task(self._run(i, u)) for i, u in enumerate(urls)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.config.close_timeout_s + 1)
        self._tasks = []

    async def __aenter__(self) -> MarketStreamClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def next_candle(self, timeout: float | None = None) -> Candle:
        """The next closed candle (TimeoutError after `timeout` seconds)."""
        async with asyncio.timeout(timeout):
            return await self._queue.get()

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

    async def _run(self, index: int, url: str) -> None:
        c = self.config
        attempt = 0
        opened_before = False
        while True:
            opened = False
            try:
                async with connect(
                    url,
                    open_timeout=c.open_timeout_s,
                    close_timeout=c.close_timeout_s,
                    ping_interval=c.ping_interval_s,
                    proxy=True if c.use_env_proxy else None,
                    max_size=1 << 22,
                ) as ws:
                    self.counters.connects += 1
                    if opened_before:
                        self.counters.reconnects += 1
                    opened_before = opened = True
                    self.connected[index] = True
                    attempt = 0
                    while True:
                        try:
                            async with asyncio.timeout(c.stale_after_s):
                                raw = await ws.recv(decode=False)
                        except TimeoutError:
                            self.counters.stale += 1
                            break
                        candle = self.decode(raw)
                        if candle is not None:
                            await self._queue.put(candle)
            except InvalidURI:
                raise
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                if not opened:
                    self.counters.failed_attempts += 1
            finally:
                self.connected[index] = False
            await asyncio.sleep(self.backoff(attempt))
            attempt += 1

    # decoding --------------------------------------------------------------------------------
    def _malformed(self, reason: str) -> None:
        self.counters.malformed[reason] += 1

    def decode(self, raw: bytes | str) -> Candle | None:
        """Count one frame; the closed candle it carries, if any (module docstring)."""
        self.counters.messages += 1
        try:
            env = _ENVELOPE.decode(raw)
        except msgspec.ValidationError:
            self._malformed("not_a_stream_event")
            return None
        except msgspec.DecodeError:
            self._malformed("invalid_json")
            return None
        if env.stream not in self._wanted:
            self._malformed("unexpected_stream")
            return None
        try:
            event = _KLINE.decode(env.data)
        except msgspec.ValidationError:
            self._malformed("invalid_kline")
            return None
        except msgspec.DecodeError:
            self._malformed("invalid_json")
            return None
        k = event.k
        if stream_name(k.s, k.i) != env.stream or k.s != event.s:
            self._malformed("stream_mismatch")
            return None
        if not k.x:
            return None
        return self._closed(env.stream, k)

    def _closed(self, stream: str, k: KlineBody) -> Candle | None:
        try:
            o, h, lo, cl, v = (float(x) for x in (k.o, k.h, k.l, k.c, k.v))
        except ValueError:
            self._malformed("invalid_number")
            return None
        prices = (o, h, lo, cl)
        if not all(math.isfinite(p) and p > 0 for p in prices) or not v >= 0:
            self._malformed("invalid_number")
            return None
        if k.t >= k.T or k.T - k.t + 1 != INTERVAL_MS[k.i] or h < lo:
            self._malformed("inconsistent")
            return None
        last = self._last_open.get(stream)
        if last is not None and k.t <= last:
            self.counters.duplicates += 1
            return None
        if last is not None and k.t > last + INTERVAL_MS[k.i]:
            self.counters.gaps += 1
        self._last_open[stream] = k.t
        self.counters.closed_candles += 1
        return Candle(k.s, k.t, k.T, o, h, lo, cl, v)
