"""Helpers for the stream tests: the bundled candles, a stepped exchange, a real aiohttp server
on 127.0.0.1 (port 0) with only the stream routes mounted and the pump running, and bounded
receive helpers. Every await here has a timeout."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from slt.data.csv_import import parse_file
from slt.data.sample import SAMPLE_FIRST_OPEN_MS, sample_files
from slt.domain import CandleSeries
from slt.rules import ExchangeRules, bundled_rules
from slt.venues.local.clock import ReplayClock
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.market import MarketReplay
from slt.venues.local.streams import StreamHub, StreamSettings
from slt.venues.local.streams_server import add_stream_routes
from slt.venues.local.userstream import UserStreams

MINUTE = 60_000
T0 = SAMPLE_FIRST_OPEN_MS + 600 * MINUTE
"""A candle open time well inside the sample (10 h in)."""
TIMEOUT = 5.0
FAST = StreamSettings(tick_s=0.005)


@functools.cache
def sample() -> dict[str, CandleSeries]:
    """The bundled sample: 4 symbols of real 1m candles, keyed by symbol."""
    out: dict[str, CandleSeries] = {}
    for path in sample_files():
        series = parse_file(path).series
        out[series.symbol] = series
    return out


def renamed(n: int) -> tuple[dict[str, CandleSeries], ExchangeRules]:
    """`n` synthetic symbols (S000USDT, ...) replaying the 4 sample series in turn, with the
    source symbol's rules under the new name (so prices format as stored)."""
    src = sample()
    names = sorted(src)
    rules = bundled_rules()
    series: dict[str, CandleSeries] = {}
    symbol_rules = {}
    for i in range(n):
        base = names[i % len(names)]
        name = f"S{i:03d}USDT"
        series[name] = dataclasses.replace(src[base], symbol=name)
        symbol_rules[name] = dataclasses.replace(rules.get(base), symbol=name)
    return series, ExchangeRules(symbol_rules, source="test")


def make_exchange(
    series: Mapping[str, CandleSeries] | None = None,
    start_ms: int = T0,
    rules: ExchangeRules | None = None,
) -> LocalExchange:
    """A stepped (speed 0) exchange at `start_ms` replaying `series` (default: the sample)."""
    clock = ReplayClock(start_ms, speed=0)
    market = MarketReplay(series if series is not None else sample(), clock)
    return LocalExchange(market, rules or bundled_rules(), clock)


@dataclass
class Server:
    ex: LocalExchange
    hub: StreamHub
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def wait_for(self, cond: Any, timeout: float = TIMEOUT) -> None:
        """Poll `cond()` until true (AssertionError after `timeout`)."""
        async with asyncio.timeout(timeout):
            while not cond():
                await asyncio.sleep(0.005)

    async def step(self, ms: int) -> None:
        """Move market time to `ms` and let the pump run over it once at least."""
        self.ex.clock.advance_to(ms)
        before = self.hub.pumps
        await self.wait_for(lambda: self.hub.pumps >= before + 2)


@asynccontextmanager
async def running(
    ex: LocalExchange | None = None,
    settings: StreamSettings = FAST,
    users: UserStreams | None = None,
) -> AsyncIterator[Server]:
    """A stream server for `ex` with the pump running; torn down on exit."""
    ex = ex or make_exchange()
    hub = StreamHub(ex, settings)
    ex.streams = hub
    if users is not None:
        ex.user_streams = users
    app = web.Application()
    add_stream_routes(app, ex)
    runner = web.AppRunner(
        app, access_log=None, max_line_size=65536, max_field_size=65536, shutdown_timeout=0.5
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = int(runner.addresses[0][1])
    try:
        yield Server(ex, hub, port)  # the pump runs from the app's startup (add_stream_routes)
    finally:
        await asyncio.wait_for(runner.cleanup(), TIMEOUT)


@asynccontextmanager
async def ws_client(
    url: str, autoping: bool = True
) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, autoping=autoping, timeout=aiohttp.ClientWSTimeout(TIMEOUT)) as ws,
    ):
        yield ws


async def recv(ws: aiohttp.ClientWebSocketResponse, timeout: float = TIMEOUT) -> Any:
    """The next text frame as JSON."""
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    return orjson.loads(msg.data)


async def recv_until(
    ws: aiohttp.ClientWebSocketResponse, pred: Any, limit: int = 1000
) -> list[Any]:
    """Frames up to and including the first one matching `pred`."""
    out = []
    for _ in range(limit):
        out.append(await recv(ws))
        if pred(out[-1]):
            return out
    raise AssertionError(f"no matching frame in {limit}")


async def closed_by_server(ws: aiohttp.ClientWebSocketResponse, timeout: float = TIMEOUT) -> int:
    """Read until the server closes; its close code."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return int(ws.close_code or 0)
            if msg.type is aiohttp.WSMsgType.ERROR:
                return -1


async def send(ws: aiohttp.ClientWebSocketResponse, value: Any) -> None:
    await asyncio.wait_for(ws.send_str(orjson.dumps(value).decode()), TIMEOUT)
