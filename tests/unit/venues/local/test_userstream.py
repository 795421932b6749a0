"""listenKeys (§10.1) and the user-data stream: one key per API key, keep-alive, close, expiry
with `listenKeyExpired`, -1125 for unknown keys, and the account's events fanned out, in order,
to every connection of a live key on `/private/ws/<key>` and the legacy `/ws/<key>`."""

from __future__ import annotations

from typing import Any

import pytest

from slt.venues.local.endpoints import Security
from slt.venues.local.errors import ApiError
from slt.venues.local.userstream import CURRENT_API_KEY, USERSTREAM, UserStreams

from .streams_helpers import (
    closed_by_server,
    make_exchange,
    recv,
    recv_until,
    running,
    ws_client,
)


class Wall:
    """A wall clock (seconds) moved by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class FakeAccount:
    """Stands in for the trading account: events queued by the test, drained by the pump."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def drain_events(self) -> list[dict[str, Any]]:
        out, self.events = self.events, []
        return out


def order_event(n: int) -> dict[str, Any]:
    return {"e": "ORDER_TRADE_UPDATE", "E": 1000 + n, "T": 1000 + n, "o": {"s": "BTCUSDT", "i": n}}


def test_one_key_per_api_key_keepalive_close_and_1125() -> None:
    wall = Wall()
    users = UserStreams(ttl_s=3600, now=wall)
    key = users.create("alice")
    assert len(key) == 64 and key.isalnum()
    wall.t += 3000
    assert users.create("alice") == key  # the active key, extended
    assert users.create("bob") != key
    wall.t += 3000
    assert users.keepalive("alice") == key  # still alive: extended at the second create
    assert users.keepalive("alice", key) == key
    with pytest.raises(ApiError) as err:
        users.keepalive("alice", "nope")
    assert err.value.code == -1125 and "listenKey" in err.value.msg
    with pytest.raises(ApiError):
        users.keepalive("bob", key)  # someone else's key
    users.close("alice", key)
    assert not users.valid(key)
    with pytest.raises(ApiError) as err:
        users.keepalive("alice")
    assert err.value.code == -1125


def test_keys_lapse_after_the_ttl() -> None:
    wall = Wall()
    users = UserStreams(ttl_s=60, now=wall)
    key = users.create("alice")
    wall.t += 59.9
    assert users.valid(key)
    wall.t += 0.1
    assert not users.valid(key)
    with pytest.raises(ApiError) as err:
        users.keepalive("alice", key)
    assert err.value.code == -1125
    assert users.create("alice") != key


async def test_endpoints_are_user_stream_weight_one_and_read_the_api_key() -> None:
    assert [(e.method, e.path) for e in USERSTREAM] == [
        ("POST", "/fapi/v1/listenKey"),
        ("PUT", "/fapi/v1/listenKey"),
        ("DELETE", "/fapi/v1/listenKey"),
    ]
    assert all(e.security is Security.USER_STREAM and e.weight({}) == 1 for e in USERSTREAM)
    post, put, delete = (e.handler for e in USERSTREAM)
    ex = make_exchange()
    ex.api_keys = {"k1": "s1", "k2": "s2"}
    a = (await post(ex, {"X-MBX-APIKEY": "k1"}))["listenKey"]
    token = CURRENT_API_KEY.set("k2")
    try:
        b = (await post(ex, {}))["listenKey"]
    finally:
        CURRENT_API_KEY.reset(token)
    assert a != b
    assert await put(ex, {"X-MBX-APIKEY": "k1"}) == {"listenKey": a}
    assert await put(ex, {"X-MBX-APIKEY": "k1", "listenKey": a}) == {"listenKey": a}
    assert await delete(ex, {"X-MBX-APIKEY": "k1", "listenKey": a}) == {}
    with pytest.raises(ApiError) as err:
        await put(ex, {"X-MBX-APIKEY": "k1", "listenKey": a})
    assert err.value.code == -1125
    single = make_exchange()  # one API key: the handlers need no help finding it
    key = (await post(single, {}))["listenKey"]
    assert await put(single, {}) == {"listenKey": key}


async def test_account_events_reach_every_connection_of_the_key_in_order() -> None:
    ex = make_exchange()
    ex.account = FakeAccount()
    users = UserStreams()
    key = users.create("slt-local-key")
    async with (
        running(ex, users=users) as srv,
        ws_client(srv.url(f"/private/ws/{key}")) as ws1,
        ws_client(srv.url(f"/ws/{key}")) as ws2,
        ws_client(srv.url(f"/stream?streams={key}")) as ws3,
    ):
        await srv.wait_for(lambda: len(users.keys[key].sinks) == 3)
        ex.account.events.extend(order_event(n) for n in range(5))
        for ws in (ws1, ws2):
            assert [await recv(ws) for _ in range(5)] == [order_event(n) for n in range(5)]
        wrapped = [await recv(ws3) for _ in range(5)]
        assert wrapped == [{"stream": key, "data": order_event(n)} for n in range(5)]
        ex.account.events.append(order_event(5))
        assert await recv(ws1) == order_event(5)


async def test_expiry_sends_listen_key_expired_then_nothing() -> None:
    ex = make_exchange()
    ex.account = FakeAccount()
    wall = Wall()
    users = UserStreams(ttl_s=60, now=wall)
    key = users.create("slt-local-key")
    async with running(ex, users=users) as srv, ws_client(srv.url(f"/private/ws/{key}")) as ws:
        await srv.wait_for(lambda: users.keys[key].sinks)
        wall.t += 61
        expired = await recv(ws)
        assert expired == {"e": "listenKeyExpired", "E": ex.clock.now_ms(), "listenKey": key}
        ex.account.events.append(order_event(1))
        await srv.wait_for(lambda: not ex.account.events)
        with pytest.raises(TimeoutError):
            await recv(ws, timeout=0.1)  # the socket stays open but carries nothing


async def test_unknown_listen_key_is_refused_on_private_and_a_stream_name_on_legacy() -> None:
    async with running() as srv:
        async with ws_client(srv.url("/private/ws/nosuchkey")) as ws:
            assert await closed_by_server(ws) == 1008
        async with ws_client(srv.url("/ws/nosuchkey")) as ws:  # an (unknown) stream name
            await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":1}')
            frames = await recv_until(ws, lambda f: f.get("id") == 1)
            assert frames[-1] == {"result": ["nosuchkey"], "id": 1}


async def test_events_query_keeps_only_the_asked_types() -> None:
    ex = make_exchange()
    ex.account = FakeAccount()
    users = UserStreams()
    key = users.create("slt-local-key")
    url = f"/private/ws?listenKey={key}&events=ACCOUNT_UPDATE/ALGO_UPDATE"
    async with running(ex, users=users) as srv, ws_client(srv.url(url)) as ws:
        await srv.wait_for(lambda: users.keys[key].sinks)
        account = {"e": "ACCOUNT_UPDATE", "E": 5, "T": 5, "a": {"m": "ORDER"}}
        ex.account.events.extend([order_event(1), account])
        assert await recv(ws) == account
