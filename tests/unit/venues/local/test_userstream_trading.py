"""End to end on one port: a signed MARKET order through the REST middleware and the trading
account, its ORDER_TRADE_UPDATE / ACCOUNT_UPDATE events on the listenKey's private stream."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import aiohttp
import orjson
from yarl import URL

from slt.venues.local.auth import sign
from slt.venues.local.clock import wall_ms
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET
from slt.venues.local.routes_trading import TRADING, build_account
from slt.venues.local.server import build_app, build_exchange, serve
from slt.venues.local.streams import StreamHub
from slt.venues.local.streams_server import add_stream_routes
from slt.venues.local.userstream import USERSTREAM

from .streams_helpers import FAST, T0, TIMEOUT, recv_until, sample

HEADERS = {"X-MBX-APIKEY": DEFAULT_API_KEY}


async def test_a_market_order_is_reported_on_the_private_stream() -> None:
    ex = build_exchange(sample(), speed=0, start_ms=T0 + 30_000)
    ex.account = build_account(ex.market, ex.rules)
    ex.streams = StreamHub(ex, FAST)
    app = build_app(ex, [*TRADING, *USERSTREAM])
    add_stream_routes(app, ex)
    runner, port = await asyncio.wait_for(serve(ex, app=app), TIMEOUT)
    base = f"127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as s:
            async with s.post(f"http://{base}/fapi/v1/listenKey", headers=HEADERS) as resp:
                key = orjson.loads(await resp.read())["listenKey"]
            async with s.ws_connect(f"ws://{base}/private/ws/{key}") as ws:
                async with asyncio.timeout(TIMEOUT):
                    while not ex.user_streams.keys[key].sinks:
                        await asyncio.sleep(0.005)
                query = urlencode(
                    {
                        "symbol": "BTCUSDT",
                        "side": "BUY",
                        "type": "MARKET",
                        "quantity": "0.010",
                        "newClientOrderId": "e2e-1",
                        "timestamp": wall_ms(),
                    }
                )
                query += "&signature=" + sign(DEFAULT_API_SECRET, query)
                url = f"http://{base}/fapi/v1/order?{query}"
                async with s.post(URL(url, encoded=True), headers=HEADERS) as r:
                    assert r.status == 200, await r.read()
                events = await recv_until(
                    ws, lambda e: e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["X"] == "FILLED"
                )
    finally:
        await asyncio.wait_for(runner.cleanup(), TIMEOUT)
    orders = [e for e in events if e["e"] == "ORDER_TRADE_UPDATE"]
    assert orders[0]["o"]["c"] == "e2e-1" and orders[0]["o"]["X"] == "NEW"
    assert orders[-1]["o"]["X"] == "FILLED" and orders[-1]["o"]["s"] == "BTCUSDT"
    stamps = [e["E"] for e in events]
    assert stamps == sorted(stamps)
