"""Fills that happen while no client listens, read back with `missing_fills` from the real local
exchange on loopback (signed requests through `BinanceRest`): a stop that fills while the Brain
is dead comes back with its trade id, client id and fee; the same fill heard on the stream has
the same ledger key; `since_ms`/`now_ms` bound what comes back; full pages and spans longer
than 7 days are read in pieces; an order created before `since_ms` still gets its client id."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import numpy as np

from slt.domain import CandleSeries, Fill, OrderFilled, Side
from slt.live.backfill import missing_fills
from slt.live.translate import StreamTranslator
from slt.rules import trading_fee
from slt.storage.trading_ops import fill_key
from slt.venues.binance.rest import BinanceRest
from slt.venues.binance.userstream import OrderTradeUpdate, UserStreamClient
from slt.venues.local.exchange import LocalExchange

from ...conftest import VENUE_START_MS as START

MIN = 60_000
DAY = 86_400_000
QTY = "0.010"


def _low_ahead(btc: CandleSeries, at: int) -> tuple[int, Decimal]:
    """A level the next two hours' lows reach (the lowest low, a tick up) and a time by which
    the path has reached it."""
    i = int(np.searchsorted(btc.open_time, at, "right")) - 1
    lows = btc.low[i + 5 : i + 120]
    j = int(np.argmin(lows))
    return int(btc.open_time[i + 5 + j]) + MIN, Decimal(str(lows[j])) + Decimal("0.1")


async def _market(rest: BinanceRest, side: str, client_id: str) -> dict[str, Any]:
    params = {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": QTY}
    return await rest.place_order({**params, "newClientOrderId": client_id})


async def test_a_stop_filled_while_nobody_listened_comes_back_whole(
    venue: tuple[LocalExchange, BinanceRest], btc: CandleSeries
) -> None:
    ex, rest = venue
    hit_by, level = _low_ahead(btc, START)
    async with asyncio.timeout(30):
        await _market(rest, "BUY", "slt-1-entry")
        stop = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET"}
        stop |= {"triggerPrice": str(level), "closePosition": "true", "clientAlgoId": "slt-2-sl"}
        await rest.place_order(stop)
        ex.clock.advance_to(hit_by)  # the Brain is dead: no stream, no REST call
        fills = await missing_fills(rest, ["BTCUSDT"], START, hit_by)
        algo = await rest.query_order("BTCUSDT", "slt-2-sl", conditional=True)
        position = next(p for p in await rest.positions() if p["symbol"] == "BTCUSDT")
    assert algo is not None and Decimal(position["positionAmt"]) == 0
    booked = ex.account.trades["BTCUSDT"]
    assert len(fills) == len(booked) == 2
    entry, exit_ = fills
    assert entry.client_id == "slt-1-entry" and entry.side is Side.LONG
    # The stop's fill belongs to the regular order its trigger placed, under the id the
    # exchange reports for that order.
    assert exit_.client_id == f"sltlocal-{algo['actualOrderId']}" and exit_.side is Side.SHORT
    assert exit_.price <= level and START < exit_.time_ms <= hit_by
    for fill, trade in zip(fills, booked, strict=True):
        assert fill.trade_id == trade.trade_id and fill.time_ms == trade.time
        assert fill.price == trade.price and fill.quantity == Decimal(QTY)
        assert fill.fee == trade.fee == trading_fee(trade.price * trade.qty, ex.account.taker_rate)
        assert fill.fee > 0 and not fill.maker and not fill.liquidation
        assert fill_key(fill, fill.trade_id) == f"BTCUSDT:t{trade.trade_id}"


async def test_the_stream_and_the_backfill_give_one_fill_the_same_key(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    ex, rest = venue
    translator = StreamTranslator()
    heard: list[Fill] = []
    async with asyncio.timeout(30), UserStreamClient(rest) as stream:
        await stream.wait_connected(5)
        await _market(rest, "BUY", "slt-3-entry")
        while not heard:
            event = await stream.next_event(timeout=5)
            if isinstance(event, OrderTradeUpdate):
                for e in translator.translate(event, lambda _c: None):
                    if isinstance(e, OrderFilled):
                        heard.append(e.fill)
        (again,) = await missing_fills(rest, ["BTCUSDT"], START, ex.clock.now_ms())
    (live,) = heard
    assert live.trade_id is not None
    assert fill_key(again, again.trade_id) == fill_key(live, live.trade_id)
    assert again == live  # the maker flag included: a taker fill on both paths


async def test_since_and_now_bound_what_comes_back(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    ex, rest = venue
    async with asyncio.timeout(30):
        await _market(rest, "BUY", "slt-4-in")
        ex.clock.advance_to(START + 10 * MIN)
        await _market(rest, "SELL", "slt-5-out")
        ex.clock.advance_to(START + 20 * MIN)
        now = START + 20 * MIN
        both = await missing_fills(rest, ["BTCUSDT"], START, now)
        later = await missing_fills(rest, ["BTCUSDT"], START + 1, now)
        earlier = await missing_fills(rest, ["BTCUSDT"], START, START + 10 * MIN - 1)
        exact = await missing_fills(rest, ["BTCUSDT"], START + 10 * MIN, START + 10 * MIN)
        none = await missing_fills(rest, ["BTCUSDT", "BTCUSDT"], now - MIN, now)
    assert [f.client_id for f in both] == ["slt-4-in", "slt-5-out"]
    assert [f.client_id for f in later] == ["slt-5-out"] == [f.client_id for f in exact]
    assert [f.client_id for f in earlier] == ["slt-4-in"]
    assert none == []


class _SmallPages:
    """`BinanceRest` with pages of 2 rows, so every read needs several requests."""

    def __init__(self, rest: BinanceRest) -> None:
        self.rest = rest

    async def user_trades(
        self, symbol: str, start_ms: int, end_ms: int | None = None
    ) -> list[dict[str, Any]]:
        return await self.rest.user_trades(symbol, start_ms, end_ms, limit=2)

    async def all_orders(
        self, symbol: str, start_ms: int, end_ms: int | None = None
    ) -> list[dict[str, Any]]:
        return await self.rest.all_orders(symbol, start_ms, end_ms, limit=2)

    async def order_by_id(self, symbol: str, order_id: int) -> dict[str, Any] | None:
        return await self.rest.order_by_id(symbol, order_id)


async def test_full_pages_are_followed_to_the_end(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    ex, rest = venue
    async with asyncio.timeout(30):
        for k in range(3):
            await _market(rest, "BUY", f"slt-in-{k}")
            await _market(rest, "SELL", f"slt-out-{k}")
        now = ex.clock.now_ms()
        whole = await missing_fills(rest, ["BTCUSDT"], START, now)
        ex.limits.log.clear()
        paged = await missing_fills(_SmallPages(rest), ["BTCUSDT"], START, now)
    assert paged == whole and len(whole) == 6
    assert [f.client_id for f in whole] == [f"slt-{d}-{k}" for k in range(3) for d in ("in", "out")]
    trades = ex.limits.requests("/fapi/v1/userTrades")
    orders = ex.limits.requests("/fapi/v1/allOrders")
    assert len(trades) == 4 and len(orders) == 4  # 2 + 2 + 2 + an empty page
    assert {r.weight for r in trades + orders} == {5}


async def test_spans_longer_than_7_days_are_read_week_by_week(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    ex, rest = venue
    async with asyncio.timeout(30):
        await _market(rest, "BUY", "slt-6-in")
        await _market(rest, "SELL", "slt-7-out")
        ex.clock.advance_to(START + 9 * DAY)
        await _market(rest, "BUY", "slt-8-in")
        ex.limits.log.clear()
        fills = await missing_fills(rest, ["BTCUSDT"], START, START + 9 * DAY)
    assert [f.client_id for f in fills] == ["slt-6-in", "slt-7-out", "slt-8-in"]
    trades = ex.limits.requests("/fapi/v1/userTrades")
    assert len(trades) == 2 and all(r.status == 200 for r in ex.limits.log)


async def test_an_order_placed_before_since_gets_its_client_id(
    venue: tuple[LocalExchange, BinanceRest], btc: CandleSeries
) -> None:
    ex, rest = venue
    hit_by, level = _low_ahead(btc, START)
    limit = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    limit |= {"quantity": QTY, "price": str(level), "newClientOrderId": "slt-9-rest"}
    async with asyncio.timeout(30):
        await rest.place_order(limit)
        ex.clock.advance_to(hit_by)
        ex.limits.log.clear()
        (fill,) = await missing_fills(rest, ["BTCUSDT"], START + MIN, hit_by)
    assert fill.client_id == "slt-9-rest" and fill.maker and fill.price == level
    assert fill.fee == trading_fee(level * Decimal(QTY), ex.account.maker_rate)
    assert len(ex.limits.requests("/fapi/v1/order")) == 1  # allOrders did not list it
