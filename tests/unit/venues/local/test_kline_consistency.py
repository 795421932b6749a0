"""One candle, one set of numbers: on the bundled sample, the REST kline rows and the kline
stream payloads of the same candles (closed 1m and 5m candles, and the forming ones read at the
same market time) carry identical strings, over a real server (REST and WebSocket on one port)
and a stepped replay clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from slt.venues.local.exchange import LocalExchange
from slt.venues.local.server import build_app, serve
from slt.venues.local.streams import StreamHub
from slt.venues.local.streams_server import add_stream_routes

from .streams_helpers import FAST, MINUTE, T0, TIMEOUT, make_exchange, recv

SYMBOLS = ("ADAUSDT", "BTCUSDT", "DOGEUSDT", "LTCUSDT")
INTERVALS = {"1m": MINUTE, "5m": 5 * MINUTE}
END = T0 + 10 * MINUTE
"""The closes due by then: ten 1m candles and two 5m ones since `T0`."""
NOW = END + 30_000
"""Market time the test steps to: half a minute into a forming candle."""
REST_FIELDS = {
    "t": 0,
    "o": 1,
    "h": 2,
    "l": 3,
    "c": 4,
    "v": 5,
    "T": 6,
    "q": 7,
    "n": 8,
    "V": 9,
    "Q": 10,
}
"""Stream kline key → index of the same field in a `GET /fapi/v1/klines` row."""


@asynccontextmanager
async def exchange_server(ex: LocalExchange) -> AsyncIterator[tuple[StreamHub, str]]:
    """`ex` served with its public endpoints and market streams (pump running) on 127.0.0.1."""
    hub = StreamHub(ex, FAST)
    ex.streams = hub
    app = build_app(ex)
    add_stream_routes(app, ex)
    async with asyncio.timeout(TIMEOUT):
        runner, port = await serve(ex, app=app)
    try:
        yield hub, f"127.0.0.1:{port}"
    finally:
        await asyncio.wait_for(runner.cleanup(), TIMEOUT)


async def wait_for(cond: Any) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not cond():
            await asyncio.sleep(0.005)


async def rest_rows(
    session: aiohttp.ClientSession, host: str, symbol: str, interval: str, **params: int
) -> list[list[Any]]:
    query = {"symbol": symbol, "interval": interval, **params}
    async with session.get(f"http://{host}/fapi/v1/klines", params=query) as resp:
        assert resp.status == 200
        rows: list[list[Any]] = orjson.loads(await resp.read())
        return rows


def fields_of_row(row: list[Any]) -> dict[str, Any]:
    return {key: row[i] for key, i in REST_FIELDS.items()}


def fields_of_payload(k: dict[str, Any]) -> dict[str, Any]:
    return {key: k[key] for key in REST_FIELDS}


async def test_rest_rows_and_stream_updates_of_the_same_candles_are_identical() -> None:
    ex = make_exchange(start_ms=T0)
    names = [f"{s.lower()}@kline_{iv}" for s in SYMBOLS for iv in INTERVALS]
    async with (
        exchange_server(ex) as (hub, host),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
        session.ws_connect(f"ws://{host}/market/stream?streams={'/'.join(names)}") as ws,
    ):
        await wait_for(lambda: all(n in hub.subs for n in names))
        before = hub.pumps
        ex.clock.advance_to(NOW)
        await wait_for(lambda: hub.pumps >= before + 2)

        closes: dict[tuple[str, str, int], dict[str, Any]] = {}
        forming: dict[tuple[str, str], dict[str, Any]] = {}
        want_closes = len(SYMBOLS) * sum((END - T0) // period for period in INTERVALS.values())
        async with asyncio.timeout(TIMEOUT):
            while len(closes) < want_closes or len(forming) < len(names):
                frame = await recv(ws)
                k = frame["data"]["k"]
                if k["x"]:
                    closes[(k["s"], k["i"], k["t"])] = k
                elif frame["data"]["E"] == NOW:
                    forming[(k["s"], k["i"])] = k

        for symbol in SYMBOLS:
            for interval, period in INTERVALS.items():
                rows = await rest_rows(
                    session, host, symbol, interval, startTime=T0, endTime=NOW, limit=100
                )
                assert [r[0] for r in rows] == list(range(T0, NOW, period))
                *closed, last = rows
                for row in closed:
                    k = closes[(symbol, interval, row[0])]
                    assert fields_of_payload(k) == fields_of_row(row), (symbol, interval, row[0])
                    if interval == "1m":  # one synthetic trade per second, ids those seconds
                        assert (k["n"], k["f"], k["L"]) == (60, k["t"] // 1000, k["t"] // 1000 + 59)
                    else:  # the 5m candle's trades are its five minutes' trades
                        ones = [c for (s, i, t), c in closes.items() if s == symbol and i == "1m"]
                        mine = [c for c in ones if k["t"] <= c["t"] <= k["T"]]
                        assert k["n"] == sum(c["n"] for c in mine)
                        assert (k["f"], k["L"]) == (mine[0]["f"], mine[-1]["L"])
                # the candle still forming reads the same over both at the same market time
                k = forming[(symbol, interval)]
                assert not k["x"] and last[0] == k["t"]
                assert fields_of_payload(k) == fields_of_row(last), (symbol, interval, "forming")
