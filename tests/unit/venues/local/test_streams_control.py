"""The control messages of §9.3 and the connection rules of §9.2, over a real socket: exact
answers and error codes, invalid JSON, the stream and message-rate limits, server pings and
the pong deadline, and the forced disconnect."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from websockets.asyncio.client import connect

from slt.venues.local.streams import StreamSettings
from slt.venues.local.streams_control import Refusal, parse_request

from .streams_helpers import (
    MINUTE,
    T0,
    TIMEOUT,
    closed_by_server,
    recv,
    recv_until,
    running,
    send,
    ws_client,
)


async def reply(ws: aiohttp.ClientWebSocketResponse, rid: int) -> object:
    """The answer to request `rid`, skipping stream events sent meanwhile."""
    return (await recv_until(ws, lambda f: f.get("id") == rid))[-1]


ROOMY = StreamSettings(tick_s=0.005, max_incoming_per_s=1000)


async def test_subscribe_unsubscribe_list_and_properties() -> None:
    async with running(settings=ROOMY) as srv, ws_client(srv.url("/market/ws")) as ws:
        await send(ws, {"method": "SUBSCRIBE", "params": ["btcusdt@kline_1m", "x@y"], "id": 1})
        assert await reply(ws, 1) == {"result": None, "id": 1}
        await send(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 3})
        assert await reply(ws, 3) == {"result": ["btcusdt@kline_1m", "x@y"], "id": 3}
        await send(ws, {"method": "UNSUBSCRIBE", "params": ["x@y"], "id": 312})
        assert await reply(ws, 312) == {"result": None, "id": 312}
        await send(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 2})
        assert await reply(ws, 2) == {"result": False, "id": 2}
        await send(ws, {"method": "SET_PROPERTY", "params": ["combined", True], "id": 5})
        assert await reply(ws, 5) == {"result": None, "id": 5}
        await send(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 6})
        assert await reply(ws, 6) == {"result": True, "id": 6}
        await srv.step(T0 + MINUTE)
        frame = (await recv_until(ws, lambda f: f["data"]["k"]["x"]))[-1]
        assert frame["stream"] == "btcusdt@kline_1m" and frame["data"]["k"]["t"] == T0
        await send(ws, {"method": "UNSUBSCRIBE", "params": ["btcusdt@kline_1m"], "id": 7})
        await recv_until(ws, lambda f: f.get("id") == 7)
        await send(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 8})
        assert await reply(ws, 8) == {"result": [], "id": 8}
        assert srv.hub.subs == {}


async def test_combined_connection_lists_url_streams_and_defaults_to_combined() -> None:
    url = "/stream?streams=btcusdt@kline_1m/ltcusdt@markPrice"
    async with running(settings=ROOMY) as srv, ws_client(srv.url(url)) as ws:
        await send(ws, {"method": "GET_PROPERTY", "params": ["combined"], "id": 1})
        await send(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 2})
        replies = [f for f in await recv_until(ws, lambda f: f.get("id") == 2) if "id" in f]
        assert replies == [
            {"result": True, "id": 1},
            {"result": ["btcusdt@kline_1m", "ltcusdt@markPrice"], "id": 2},
        ]


async def test_error_answers_have_binance_codes() -> None:
    cases = [
        ({"method": "GET_PROPERTY", "params": ["foo"], "id": 7}, 0, "Unknown property", 7),
        (
            {"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 8},
            1,
            "Invalid value type: expected Boolean",
            8,
        ),
        (
            {"method": "LIST_SUBSCRIPTIONS", "id": "x"},
            2,
            "Invalid request: request ID must be an unsigned integer",
            None,
        ),
        (
            {"method": "LIST_SUBSCRIPTIONS", "id": -1},
            2,
            "Invalid request: request ID must be an unsigned integer",
            None,
        ),
        ({"params": [], "id": 9}, 2, "Invalid request: missing field `method`", 9),
        (
            {"method": "GET_PROPERTY", "params": ["combined", 1], "id": 10},
            2,
            "Invalid request: too many parameters",
            10,
        ),
        (
            {"method": "GET_PROPERTY", "params": [5], "id": 11},
            2,
            "Invalid request: property name must be a string",
            11,
        ),
    ]
    async with running(settings=ROOMY) as srv, ws_client(srv.url("/market/ws")) as ws:
        for request, code, msg, rid in cases:
            await send(ws, request)
            assert await recv(ws) == {"error": {"code": code, "msg": msg}, "id": rid}
        await send(ws, {"method": "FOO", "id": 12})
        reply = await recv(ws)
        assert reply["error"]["code"] == 2 and reply["id"] == 12
        assert reply["error"]["msg"].startswith('Invalid request: unknown variant "FOO", expected')
        await send(ws, {"method": "LIST_SUBSCRIPTIONS", "id": 13})  # still connected
        assert await recv(ws) == {"result": [], "id": 13}


async def test_invalid_json_is_code_3_and_a_disconnect() -> None:
    async with running() as srv, ws_client(srv.url("/market/ws")) as ws:
        await asyncio.wait_for(ws.send_str("{oops"), TIMEOUT)
        reply = await recv(ws)
        assert reply == {
            "error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 2"}
        }
        assert await closed_by_server(ws) == 1008


def test_parse_request_orders_checks_like_binance() -> None:
    bad = parse_request("")
    assert isinstance(bad, Refusal) and bad.code == 3 and bad.fatal
    bad = parse_request("[1]")
    assert isinstance(bad, Refusal) and bad.code == 2 and not bad.fatal
    bad = parse_request('{"method":"LIST_SUBSCRIPTIONS","id":true}')
    assert isinstance(bad, Refusal) and "unsigned integer" in bad.msg


async def test_too_many_streams_disconnects() -> None:
    settings = StreamSettings(tick_s=0.005, max_streams=3, max_incoming_per_s=100)
    async with running(settings=settings) as srv:
        async with ws_client(srv.url("/market/ws/a@kline_1m/b@kline_1m/c@kline_1m")) as ws:
            await send(ws, {"method": "SUBSCRIBE", "params": ["a@kline_1m"], "id": 1})
            assert await recv(ws) == {"result": None, "id": 1}  # already there: still 3
            await send(ws, {"method": "SUBSCRIBE", "params": ["d@kline_1m"], "id": 2})
            assert await closed_by_server(ws) == 1008
        url = "/market/stream?streams=a@kline_1m/b@kline_1m/c@kline_1m/d@kline_1m"
        async with ws_client(srv.url(url)) as ws:
            assert await closed_by_server(ws) == 1008


async def test_more_than_ten_messages_a_second_disconnects() -> None:
    async with running() as srv, ws_client(srv.url("/market/ws")) as ws:
        for i in range(11):
            await send(ws, {"method": "LIST_SUBSCRIPTIONS", "id": i})
        replies = []
        async with asyncio.timeout(TIMEOUT):
            while True:
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                replies.append(msg.data)
        assert len(replies) == 10 and ws.close_code == 1008


async def test_server_pings_and_drops_a_client_that_never_pongs() -> None:
    settings = StreamSettings(
        tick_s=0.005, ping_interval_s=0.05, pong_timeout_s=0.3, max_incoming_per_s=100
    )
    async with running(settings=settings) as srv:
        async with ws_client(srv.url("/market/ws"), autoping=False) as ws:
            started = time.monotonic()
            msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
            assert msg.type is aiohttp.WSMsgType.PING
            assert await closed_by_server(ws) == 1008
            assert time.monotonic() - started >= 0.3
        url = srv.url("/market/ws").replace("http", "ws")
        async with connect(url, ping_interval=None, proxy=None) as client:  # pongs by itself
            await asyncio.sleep(0.6)
            await asyncio.wait_for(client.send('{"method":"LIST_SUBSCRIPTIONS","id":1}'), TIMEOUT)
            assert await asyncio.wait_for(client.recv(), TIMEOUT) == '{"result":[],"id":1}'


async def test_connection_is_closed_at_its_lifetime() -> None:
    settings = StreamSettings(tick_s=0.005, max_lifetime_s=0.2)
    async with running(settings=settings) as srv, ws_client(srv.url("/market/ws")) as ws:
        started = time.monotonic()
        assert await closed_by_server(ws) == 1001
        assert 0.2 <= time.monotonic() - started < TIMEOUT
