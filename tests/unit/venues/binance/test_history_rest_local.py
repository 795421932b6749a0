"""`BinanceRest.user_trades` / `all_orders` / `order_by_id`: signed calls to the local exchange's
history endpoints on loopback answer Binance's documented rows, are charged weight 5, and a
span is always cut into windows the 7-day rule accepts, never reaching back past the 6 months
of trades Binance serves."""

from __future__ import annotations

import asyncio
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slt.venues.binance.errors import VenueError
from slt.venues.binance.rest import HISTORY_WINDOW_MS, TRADE_HORIZON_MS, BinanceRest
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.routes_history import TRADE_HORIZON_MS as EXCHANGE_HORIZON_MS
from slt.venues.local.routes_history import WEEK_MS

from ....conftest import VENUE_START_MS as START

DAY = 86_400_000

TRADE_KEYS = {
    "buyer",
    "commission",
    "commissionAsset",
    "id",
    "maker",
    "orderId",
    "price",
    "qty",
    "quoteQty",
    "realizedPnl",
    "side",
    "positionSide",
    "symbol",
    "time",
}
ORDER_KEYS = {
    "avgPrice",
    "clientOrderId",
    "cumQuote",
    "executedQty",
    "orderId",
    "origQty",
    "origType",
    "price",
    "reduceOnly",
    "side",
    "positionSide",
    "status",
    "stopPrice",
    "closePosition",
    "symbol",
    "time",
    "timeInForce",
    "type",
    "updateTime",
    "workingType",
    "priceProtect",
    "priceMatch",
    "selfTradePreventionMode",
    "goodTillDate",
}


async def test_signed_history_calls_answer_binances_rows(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    ex, rest = venue
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"}
    async with asyncio.timeout(20):
        placed = await rest.place_order({**order, "newClientOrderId": "slt-1-entry"})
        ex.limits.log.clear()
        trades = await rest.user_trades("BTCUSDT", START, START + 60_000)
        orders = await rest.all_orders("BTCUSDT", START, START + 60_000)
        by_id = await rest.order_by_id("BTCUSDT", int(placed["orderId"]))
        unknown = await rest.order_by_id("BTCUSDT", 999_999)
    (trade,) = trades
    (listed,) = orders
    assert set(trade) == TRADE_KEYS and set(listed) >= ORDER_KEYS
    assert trade["orderId"] == listed["orderId"] == placed["orderId"]
    assert trade["side"] == "BUY" and trade["buyer"] is True and trade["qty"] == "0.010"
    assert trade["commissionAsset"] == "USDT" and trade["time"] == START
    assert listed["clientOrderId"] == "slt-1-entry" and listed["status"] == "FILLED"
    assert by_id is not None and by_id["clientOrderId"] == "slt-1-entry" and unknown is None
    weights = [(r.path, r.weight, r.status) for r in ex.limits.log]
    assert weights[:2] == [("/fapi/v1/userTrades", 5, 200), ("/fapi/v1/allOrders", 5, 200)]


async def test_market_time_is_the_replays_clock_not_the_signing_clock(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    ex, rest = venue
    async with asyncio.timeout(20):
        assert await rest.market_time_ms("BTCUSDT") == START
        ex.clock.advance_to(START + 90_000)
        assert await rest.market_time_ms("BTCUSDT") == START + 90_000
        assert abs(await rest.server_time() - rest.now_ms()) < 5_000  # wall time


async def test_the_exchange_refuses_a_window_the_client_would_never_send(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    _ex, rest = venue
    too_long = {"symbol": "BTCUSDT", "startTime": START, "endTime": START + WEEK_MS + 1}
    with pytest.raises(VenueError) as err:
        await rest._call("user_trades", too_long)
    assert err.value.code == -1127


@given(
    st.integers(min_value=0, max_value=2**41),
    st.integers(min_value=-1, max_value=60 * 86_400_000),
)
def test_windows_cover_the_span_exactly_and_each_is_allowed(start: int, length: int) -> None:
    rest = BinanceRest.__new__(BinanceRest)
    spans = rest._windows(start, start + length)
    if length < 0:
        assert spans == []
        return
    assert spans[0][0] == start and spans[-1][1] == start + length
    for (_lo, hi), (nxt, _hi) in pairwise(spans):
        assert nxt == hi + 1
    assert all(0 <= hi - lo <= HISTORY_WINDOW_MS < WEEK_MS for lo, hi in spans)


async def test_a_long_span_is_paged_by_week_and_never_past_6_months(
    venue: tuple[LocalExchange, BinanceRest], monkeypatch: pytest.MonkeyPatch
) -> None:
    ex, rest = venue
    sent: list[dict[str, Any]] = []
    call = rest._call

    async def spy(name: str, params: dict[str, Any] | None = None) -> Any:
        if name == "user_trades":
            sent.append(dict(params or {}))
        return await call(name, params)

    monkeypatch.setattr(rest, "_call", spy)
    buy = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"}
    sell = {**buy, "side": "SELL"}
    times = [START, START + 10 * DAY, START + 17 * DAY + 1]
    async with asyncio.timeout(60):
        for k, at in enumerate(times):
            ex.clock.advance_to(at)
            await rest.place_order({**(buy if k % 2 == 0 else sell), "newClientOrderId": f"t{k}"})
        end = START + 20 * DAY - 1  # 21 days: three windows
        ex.limits.log.clear()
        spanned = await rest.user_trades("BTCUSDT", START - DAY, end)
        assert [t["time"] for t in spanned] == times
        weeks = [(q["startTime"], q["endTime"]) for q in sent]
        assert weeks[0][0] == START - DAY and weeks[-1][1] == end and len(weeks) == 3
        now = START + 200 * DAY  # the three trades are now older than 6 months
        ex.clock.advance_to(now)
        await rest.place_order({**buy, "newClientOrderId": "late"})
        sent.clear()
        late = await rest.user_trades("BTCUSDT", START - DAY, await rest.market_time_ms("BTCUSDT"))
        assert [t["time"] for t in late] == [now]
    assert sent[0]["startTime"] == now - TRADE_HORIZON_MS >= now - EXCHANGE_HORIZON_MS
    assert sent[-1]["endTime"] == now and len(sent) == 26  # 180 days in 7-day windows
    assert all(0 <= q["endTime"] - q["startTime"] <= HISTORY_WINDOW_MS for q in sent)
    assert all(r.status == 200 for r in ex.limits.requests("/fapi/v1/userTrades"))


async def test_the_horizon_counts_from_the_venues_present_not_the_clients_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rest = BinanceRest.__new__(BinanceRest)  # no ccxt client: its (wall) clock is never read
    windows: list[tuple[int, int]] = []

    async def no_trades(name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        windows.append((params["startTime"], params["endTime"]))
        return []

    monkeypatch.setattr(rest, "_call", no_trades)
    replay_now = START + 365 * DAY  # a replay's market time, long before the wall clock
    await rest.user_trades("BTCUSDT", START, replay_now)
    assert windows[0][0] == replay_now - TRADE_HORIZON_MS and windows[-1][1] == replay_now
    windows.clear()
    await rest.user_trades("BTCUSDT", START, START + 3 * DAY, now_ms=replay_now)
    assert windows == []  # the whole span is older than 6 months: nothing is asked
