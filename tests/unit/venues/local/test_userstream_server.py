"""listenKeys through the exchange's real REST middleware (API-key check, weight, error body)
and both kinds of stream on the same port, as `slt exchange serve` mounts them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson

from slt.venues.local.exchange import DEFAULT_API_KEY, LocalExchange
from slt.venues.local.server import build_app, build_exchange, serve
from slt.venues.local.streams import StreamHub
from slt.venues.local.streams_server import add_stream_routes
from slt.venues.local.userstream import USERSTREAM

from .streams_helpers import FAST, MINUTE, T0, TIMEOUT, recv, recv_until, sample
from .test_userstream import FakeAccount, order_event

HEADERS = {"X-MBX-APIKEY": DEFAULT_API_KEY}


@asynccontextmanager
async def exchange_server() -> AsyncIterator[tuple[LocalExchange, str, aiohttp.ClientSession]]:
    ex = build_exchange(sample(), speed=0, start_ms=T0)
    ex.account = FakeAccount()
    ex.streams = StreamHub(ex, FAST)
    app = build_app(ex, USERSTREAM)
    add_stream_routes(app, ex)
    runner, port = await asyncio.wait_for(serve(ex, app=app), TIMEOUT)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as s:
            yield ex, f"127.0.0.1:{port}", s
    finally:
        await asyncio.wait_for(runner.cleanup(), TIMEOUT)


async def call(s: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, Any]:
    async with s.request(method, url, **kw) as resp:
        return resp.status, orjson.loads(await resp.read())


async def test_listen_key_rest_calls_and_the_private_stream_on_one_port() -> None:
    async with exchange_server() as (ex, host, s):
        base = f"http://{host}/fapi/v1/listenKey"
        status, body = await call(s, "POST", base, headers=HEADERS)
        assert status == 200 and len(body["listenKey"]) == 64
        key = body["listenKey"]
        assert (await call(s, "POST", base, headers=HEADERS))[1] == {"listenKey": key}
        assert (await call(s, "PUT", base, headers=HEADERS))[1] == {"listenKey": key}
        status, body = await call(s, "POST", base)  # USER_STREAM needs the API key
        assert status == 401 and body["code"] in (-2014, -2015)
        async with (
            s.ws_connect(f"ws://{host}/private/ws/{key}") as user,
            s.ws_connect(f"ws://{host}/market/ws/btcusdt@kline_1m") as market,
        ):
            hub = ex.streams
            assert isinstance(hub, StreamHub)
            async with asyncio.timeout(TIMEOUT):
                while len(hub.connections) < 2 or not hub.subs:
                    await asyncio.sleep(0.005)
            ex.account.events.append(order_event(1))
            assert await recv(user) == order_event(1)
            ex.clock.advance_to(T0 + MINUTE)
            close = (await recv_until(market, lambda f: f["k"]["x"]))[-1]
            assert close["k"]["t"] == T0
        assert (await call(s, "DELETE", base, headers=HEADERS))[1] == {}
        status, body = await call(s, "PUT", f"{base}?listenKey={key}", headers=HEADERS)
        assert status == 400 and body["code"] == -1125
