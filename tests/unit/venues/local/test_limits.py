"""Rate limits, fault switches and the middleware's answers: weights per endpoint read back
from the request log, 429 then 418 with growing bans and Retry-After, order counts and -1015,
injected rejections and delays, unknown paths and unexpected errors."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import pytest

from slt.data.sample import SAMPLE_FIRST_OPEN_MS
from slt.domain import CandleSeries
from slt.venues.local.auth import CURRENT_API_KEY
from slt.venues.local.endpoints import Endpoint, Params, Security, fixed
from slt.venues.local.errors import ApiError
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.faults import INTERNAL_503, TIMESTAMP_1021, UNKNOWN_503
from slt.venues.local.limits import LimitConfig, Limits
from slt.venues.local.server import build_exchange

if TYPE_CHECKING:
    from conftest import serving

MINUTE = 60_000
T = 1_800_000_000_000  # a whole minute (2027-01-15 08:00 UTC)
NOW = SAMPLE_FIRST_OPEN_MS + 3 * 86_400_000 + 20 * MINUTE + 30_000
BANNED = (
    "Way too many requests; IP banned until {}. Please use the websocket for live updates to "
    "avoid bans."
)


class Wall:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


def refused(fn: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args)
    return info.value


def test_weight_windows_start_on_the_minute() -> None:
    wall = Wall(T + 59_500)
    limits = Limits(LimitConfig(weight_per_minute=10), wall=wall)
    assert limits.charge_weight("a", 4) == 4
    assert limits.charge_weight("a", 6) == 10  # exactly at the limit is allowed
    assert limits.charge_weight("b", 7) == 7  # per IP
    wall.ms = T + MINUTE  # half a second later, a new window
    assert limits.used_weight("a") == 0
    assert limits.headers("a") == {"X-MBX-USED-WEIGHT-1M": "0"}


def test_429_then_418_with_growing_capped_bans() -> None:
    wall = Wall(T + 12_300)
    cfg = LimitConfig(weight_per_minute=10, ban_base_ms=120_000, ban_max_ms=400_000)
    limits = Limits(cfg, wall=wall)
    limits.charge_weight("ip", 6)
    err = refused(limits.charge_weight, "ip", 5)
    assert (err.http_status, err.code) == (429, -1003)
    assert err.msg == (
        "Too many requests; current limit is 10 requests per minute. Please use the websocket "
        "for live updates to avoid polling the API."
    )
    assert err.headers == {"Retry-After": "48"}  # 47.7 s to the window's end, rounded up
    assert limits.used_weight("ip") == 11
    wall.ms += 1000  # sending again after the 429: banned for 2 minutes
    err = refused(limits.charge_weight, "ip", 1)
    until = T + 13_300 + 120_000
    assert (err.http_status, err.code, err.msg) == (418, -1003, BANNED.format(until))
    assert err.headers == {"Retry-After": "120"}
    wall.ms += 30_500  # still banned, the ban does not grow while waiting it out
    err = refused(limits.charge_weight, "ip", 1)
    assert (err.http_status, err.headers) == (418, {"Retry-After": "90"})
    assert limits.banned_until("ip") == until
    wall.ms = until
    assert limits.charge_weight("ip", 10) == 10
    bans = []
    for _ in range(3):  # each new offence: 429, then a ban twice as long, capped
        assert refused(limits.charge_weight, "ip", 1).http_status == 429
        err = refused(limits.charge_weight, "ip", 1)
        bans.append(int(err.headers["Retry-After"]))
        wall.ms = limits.banned_until("ip")
        wall.ms += MINUTE - wall.ms % MINUTE
        limits.charge_weight("ip", 10)
    assert bans == [240, 400, 400]
    assert limits.charge_weight("other", 1) == 1


def test_order_counts_per_10s_and_per_minute() -> None:
    wall = Wall(T)
    limits = Limits(LimitConfig(orders_per_10s=3, orders_per_minute=5), wall=wall)
    assert [limits.charge_order("acct") for _ in range(3)] == [(1, 1), (2, 2), (3, 3)]
    err = refused(limits.charge_order, "acct")
    assert (err.http_status, err.code, err.msg, err.headers) == (
        429,
        -1015,
        "Too many new orders; current limit is 3 orders per 10 SECOND.",
        {},
    )
    wall.ms = T + 10_000
    assert limits.charge_order("acct") == (1, 5)
    err = refused(limits.charge_order, "acct")
    assert err.msg == "Too many new orders; current limit is 5 orders per 1 MINUTE."
    assert limits.headers("x", "acct") == {
        "X-MBX-USED-WEIGHT-1M": "0",
        "X-MBX-ORDER-COUNT-10S": "2",
        "X-MBX-ORDER-COUNT-1M": "6",
    }
    wall.ms = T + MINUTE
    assert limits.order_counts("acct") == (0, 0)


# through the server ------------------------------------------------------------------------
@pytest.fixture
def wall() -> Wall:
    return Wall(T + 1_000)


@pytest.fixture
def ex(sample: dict[str, CandleSeries], wall: Wall) -> LocalExchange:
    return build_exchange(sample, speed=0, start_ms=NOW, wall=wall)


async def echo(ex: LocalExchange, params: Params) -> dict[str, str]:
    return dict(params)


async def whoami(ex: LocalExchange, params: Params) -> dict[str, str | None]:
    return {"key": CURRENT_API_KEY.get()}


async def boom(ex: LocalExchange, params: Params) -> None:
    raise RuntimeError("handler bug")


EXTRA = (
    Endpoint("POST", "/fapi/v1/order", Security.SIGNED, fixed(0), echo, orders=True),
    Endpoint("PUT", "/fapi/v1/listenKey", Security.USER_STREAM, fixed(1), echo),
    Endpoint("GET", "/fapi/v1/boom", Security.NONE, fixed(3), boom),
    Endpoint("GET", "/fapi/v1/whoami", Security.MARKET_DATA, fixed(1), whoami),
    Endpoint("GET", "/fapi/v1/anyone", Security.NONE, fixed(1), whoami),
)


async def test_every_endpoint_is_charged_its_weight(
    ex: LocalExchange, wall: Wall, serving_factory: type[serving]
) -> None:
    calls: list[tuple[str, dict[str, Any], int]] = [
        ("/fapi/v1/ping", {}, 1),
        ("/fapi/v1/time", {}, 1),
        ("/fapi/v1/exchangeInfo", {}, 1),
        ("/fapi/v1/klines", {"limit": 99}, 1),
        ("/fapi/v1/klines", {"limit": 100}, 2),
        ("/fapi/v1/klines", {"limit": 499}, 2),
        ("/fapi/v1/klines", {}, 5),
        ("/fapi/v1/klines", {"limit": 1000}, 5),
        ("/fapi/v1/klines", {"limit": 1001}, 10),
        ("/fapi/v1/klines", {"limit": 5000}, 10),  # refused (-1130), still charged
        ("/fapi/v1/ticker/24hr", {"symbol": "BTCUSDT"}, 1),
        ("/fapi/v1/ticker/24hr", {}, 40),
        ("/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"}, 1),
        ("/fapi/v1/premiumIndex", {}, 10),
        ("/fapi/v1/ticker/price", {"symbol": "BTCUSDT"}, 1),
        ("/fapi/v2/ticker/price", {}, 2),
    ]
    async with serving_factory(ex) as client:
        total = 0
        for path, params, weight in calls:
            if path == "/fapi/v1/klines":
                params = {"symbol": "BTCUSDT", "interval": "1m", **params}
            _, headers, _ = await client.get(path, **params)
            total += weight
            assert headers["X-MBX-USED-WEIGHT-1M"] == str(total), path
        for path, weight in (("/fapi/v1/leverageBracket", 1), ("/fapi/v1/commissionRate", 20)):
            status, headers, _ = await client.signed(
                "GET", path, symbol="BTCUSDT", timestamp=wall.ms
            )
            total += weight
            assert (status, headers["X-MBX-USED-WEIGHT-1M"]) == (200, str(total))
        status, headers, _ = await client.get("/fapi/v1/commissionRate", symbol="BTCUSDT")
        total += 20  # refused for its missing key, charged all the same
        assert (status, headers["X-MBX-USED-WEIGHT-1M"]) == (401, str(total))
    logged = [(r.path, r.weight, r.status) for r in ex.limits.requests()]
    expected = [(p, w, 400 if p.endswith("klines") and w == 10 and i == 9 else 200)
                for i, (p, _, w) in enumerate(calls)]  # fmt: skip
    assert logged[: len(calls)] == expected
    assert logged[len(calls) :] == [
        ("/fapi/v1/leverageBracket", 1, 200),
        ("/fapi/v1/commissionRate", 20, 200),
        ("/fapi/v1/commissionRate", 20, 401),
    ]
    assert {r.ip for r in ex.limits.requests()} == {"127.0.0.1"}
    assert all(r.wall_ms == wall.ms for r in ex.limits.requests())
    assert ex.limits.requests("/fapi/v1/commissionRate")[-1].code == -2015


async def test_429_then_418_over_http(
    ex: LocalExchange, wall: Wall, serving_factory: type[serving]
) -> None:
    ex.limits.config = LimitConfig(weight_per_minute=3, ban_base_ms=5_000)
    async with serving_factory(ex) as client:
        for _ in range(3):
            assert (await client.get("/fapi/v1/ping"))[0] == 200
        status, headers, body = await client.get("/fapi/v1/ping")
        assert (status, body["code"], headers["Retry-After"]) == (429, -1003, "59")
        assert headers["X-MBX-USED-WEIGHT-1M"] == "4"
        status, headers, body = await client.get("/fapi/v1/time")
        assert (status, headers["Retry-After"]) == (418, "5")
        assert body == {"code": -1003, "msg": BANNED.format(wall.ms + 5_000)}
    assert [(r.status, r.weight) for r in ex.limits.requests()][-2:] == [(429, 1), (418, 0)]


async def test_order_endpoints_count_orders(
    ex: LocalExchange, wall: Wall, serving_factory: type[serving]
) -> None:
    ex.limits.config = LimitConfig(orders_per_10s=2)
    async with serving_factory(ex, EXTRA) as client:
        for n in (1, 2):
            status, headers, body = await client.signed(
                "POST", "/fapi/v1/order", in_body=True, symbol="BTCUSDT", timestamp=wall.ms
            )
            assert status == 200 and body["symbol"] == "BTCUSDT"
            assert (headers["X-MBX-ORDER-COUNT-10S"], headers["X-MBX-ORDER-COUNT-1M"]) == (
                str(n),
                str(n),
            )
            assert headers["X-MBX-USED-WEIGHT-1M"] == "0"
        status, headers, body = await client.signed(
            "POST", "/fapi/v1/order", symbol="BTCUSDT", timestamp=wall.ms
        )
        assert (status, body["code"], headers["X-MBX-ORDER-COUNT-10S"]) == (429, -1015, "3")
        _, headers, _ = await client.get("/fapi/v1/ping")
        assert "X-MBX-ORDER-COUNT-10S" not in headers


async def test_parameters_reach_the_handler_merged_and_checked(
    ex: LocalExchange, wall: Wall, serving_factory: type[serving]
) -> None:
    from slt.venues.local.auth import sign

    async with serving_factory(ex, EXTRA) as client:
        query = "symbol=BTCUSDT&side=BUY"
        body = f"quantity=1&side=SELL&timestamp={wall.ms}"
        sig = sign(client.secret, query + body)
        status, _, got = await client.raw(
            "POST", "/fapi/v1/order", query, f"{body}&signature={sig}", {"X-MBX-APIKEY": client.key}
        )
        assert status == 200
        assert got == {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "quantity": "1",
            "timestamp": str(wall.ms),
        }
        status, _, got = await client.raw(
            "PUT", "/fapi/v1/listenKey", "listenKey=abc", None, {"X-MBX-APIKEY": client.key}
        )
        assert (status, got) == (200, {"listenKey": "abc"})
        status, _, got = await client.raw("PUT", "/fapi/v1/listenKey", "", None, {})
        assert (status, got["code"]) == (401, -2015)
        status, _, got = await client.raw("GET", "/fapi/v1/ping", "a=1&a=2")
        assert (status, got) == (
            400,
            {"code": -1101, "msg": "Duplicate values for a parameter detected."},
        )
        odd = "x-a/b:c d+é"  # signed as sent: percent-encoded, '+' for the space
        for in_body in (False, True):
            status, _, got = await client.signed(
                "POST", "/fapi/v1/order", in_body=in_body, newClientOrderId=odd, timestamp=wall.ms
            )
            assert (status, got["newClientOrderId"]) == (200, odd)
        headers = {"X-MBX-APIKEY": client.key}
        assert (await client.raw("GET", "/fapi/v1/whoami", "", None, headers))[2] == {
            "key": client.key
        }
        assert (await client.raw("GET", "/fapi/v1/anyone", "", None, headers))[2] == {"key": None}
        assert CURRENT_API_KEY.get() is None
        stale = wall.ms - 6000
        status, _, got = await client.signed("POST", "/fapi/v1/order", timestamp=stale)
        assert (status, got["code"]) == (400, -1021)


async def test_unknown_paths_and_unexpected_errors(
    ex: LocalExchange, serving_factory: type[serving]
) -> None:
    async with serving_factory(ex, EXTRA) as client:
        status, headers, body = await client.get("/fapi/v9/nothing")
        assert (status, body) == (
            404,
            {"code": -5000, "msg": "Path /fapi/v9/nothing, Method GET is invalid"},
        )
        assert headers["X-MBX-USED-WEIGHT-1M"] == "0"
        status, _, body = await client.raw("DELETE", "/fapi/v1/ping")
        assert (status, body["code"]) == (404, -5000)
        status, headers, body = await client.get("/fapi/v1/boom")
        assert (status, body) == (
            500,
            {"code": -1000, "msg": "An unknown error occured while processing the request."},
        )
        assert headers["X-MBX-USED-WEIGHT-1M"] == "3"
    assert [(r.path, r.status, r.code) for r in ex.limits.requests()] == [
        ("/fapi/v9/nothing", 404, -5000),
        ("/fapi/v1/ping", 404, -5000),
        ("/fapi/v1/boom", 500, -1000),
    ]


async def test_injected_faults(
    ex: LocalExchange, wall: Wall, serving_factory: type[serving]
) -> None:
    async with serving_factory(ex, EXTRA) as client:
        ex.faults.reject(2, UNKNOWN_503, paths=["/fapi/v1/order"])
        assert (await client.get("/fapi/v1/ping"))[0] == 200  # other paths unaffected
        for _ in range(2):
            status, headers, body = await client.signed(
                "POST", "/fapi/v1/order", symbol="X", timestamp=wall.ms
            )
            assert status == 503 and "X-MBX-USED-WEIGHT-1M" in headers
            assert body == {
                "timestamp": wall.ms,
                "path": "/fapi/v1/order",
                "msg": "Unknown error, please check your request or try again later.",
            }
        status, _, _ = await client.signed("POST", "/fapi/v1/order", symbol="X", timestamp=wall.ms)
        assert status == 200
        ex.faults.reject(1, TIMESTAMP_1021)
        status, _, body = await client.get("/fapi/v1/time")
        assert (status, body["code"]) == (400, -1021)
        ex.faults.reject(1, INTERNAL_503)
        assert (await client.get("/fapi/v1/ping"))[2]["code"] == -1001
        ex.faults.rest_delay_ms = 150
        started = time.monotonic()
        assert (await client.get("/fapi/v1/ping"))[0] == 200
        assert time.monotonic() - started >= 0.15
        ex.faults.clear()
        started = time.monotonic()
        await asyncio.wait_for(client.get("/fapi/v1/ping"), 1.0)
        assert time.monotonic() - started < 0.15
    codes = [r.code for r in ex.limits.requests("/fapi/v1/order")]
    assert codes == [None, None, None]  # code-less gateway bodies log no Binance code
    assert [r.status for r in ex.limits.requests("/fapi/v1/order")] == [503, 503, 200]
    with pytest.raises(ValueError):
        ex.faults.reject(-1)
