"""The project's adapter through a whole trade over REST and the user-data stream, against the
local exchange on loopback: entry, take-profit placed as an algo order, the market replayed
until it triggers, and every step confirmed by the account's own events; a dropped stream
comes back with a gap marker so the trader knows to reconcile."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import numpy as np
import pytest

from slt.domain import CandleSeries
from slt.venues.binance.backoff import Backoff
from slt.venues.binance.rest import BinanceRest
from slt.venues.binance.userstream import (
    AccountUpdate,
    AlgoUpdate,
    OrderTradeUpdate,
    StreamGap,
    UserEvent,
    UserStreamClient,
    decode_user_event,
)
from slt.venues.local.exchange import LocalExchange

from ....conftest import VENUE_START_MS as START

MIN = 60_000


async def _until(client: UserStreamClient, want: type, pred: object = None) -> list[UserEvent]:
    """Events up to and including the first `want` matching `pred` (5 s at most)."""
    seen: list[UserEvent] = []
    while True:
        event = await client.next_event(timeout=5)
        seen.append(event)
        if isinstance(event, want) and (pred is None or pred(event)):  # type: ignore[operator]
            return seen


def _take_profit_level(btc: CandleSeries) -> tuple[int, Decimal]:
    """A level the next hour's highs reach but the entry minute does not, and when."""
    i = int(np.searchsorted(btc.open_time, START, "right")) - 1
    highs = btc.high[i + 5 : i + 60]
    j = int(np.argmax(highs))
    level = Decimal(str(highs[j])) - Decimal("0.1")
    return int(btc.open_time[i + 5 + j]) + MIN, level


async def test_entry_take_profit_and_the_events_that_confirm_them(
    venue: tuple[LocalExchange, BinanceRest], btc: CandleSeries
) -> None:
    ex, rest = venue
    hit_by, level = _take_profit_level(btc)
    async with asyncio.timeout(30), UserStreamClient(rest) as stream:
        await stream.wait_connected(5)
        await rest.set_leverage("BTCUSDT", 5)
        entry = {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "MARKET",
            "quantity": "0.010",
            "newClientOrderId": "slt-11-entry",
        }
        await rest.place_order(entry)
        filled = await _until(stream, OrderTradeUpdate, lambda e: e.o.X == "FILLED")
        fill = filled[-1]
        assert isinstance(fill, OrderTradeUpdate)
        assert fill.o.c == "slt-11-entry" and fill.o.x == "TRADE" and fill.o.z == "0.010"
        assert Decimal(fill.o.n) > 0 and fill.o.N == "USDT"
        account = await _until(stream, AccountUpdate)
        assert any(p.s == "BTCUSDT" and Decimal(p.pa) == Decimal("0.010") for p in account[-1].a.P)  # type: ignore[union-attr]

        entry_price = Decimal(fill.o.L)
        assert level > entry_price
        await rest.place_order(
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "TAKE_PROFIT_MARKET",
                "triggerPrice": str(level),
                "closePosition": "true",
                "clientAlgoId": "slt-12-tp",
            }
        )
        placed = await _until(stream, AlgoUpdate)
        assert placed[-1].o.caid == "slt-12-tp" and placed[-1].o.X == "NEW"  # type: ignore[union-attr]

        ex.clock.advance_to(hit_by)  # the market moves on; the pump reports what happened
        closed = await _until(stream, OrderTradeUpdate, lambda e: e.o.X == "FILLED")
        close = closed[-1]
        assert isinstance(close, OrderTradeUpdate) and close.o.S == "SELL"
        assert Decimal(close.o.L) >= level - Decimal("0.1") and Decimal(close.o.rp) > 0
        assert any(isinstance(e, AlgoUpdate) and e.o.X in ("TRIGGERED", "FINISHED") for e in closed)
        position = next(p for p in await rest.positions() if p["symbol"] == "BTCUSDT")
        assert Decimal(position["positionAmt"]) == 0


async def test_a_dropped_stream_reconnects_with_a_gap_marker(
    venue: tuple[LocalExchange, BinanceRest],
) -> None:
    ex, rest = venue
    async with asyncio.timeout(30), UserStreamClient(rest, backoff=Backoff(0.05)) as stream:
        await stream.wait_connected(5)
        ex.faults.drop_ws_connections = True
        await asyncio.sleep(0.3)
        ex.faults.drop_ws_connections = False
        gap = await stream.next_event(timeout=10)
        assert isinstance(gap, StreamGap) and stream.counters.reconnects >= 1
        await rest.place_order(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.010",
                "newClientOrderId": "slt-21-entry",
            }
        )
        after = await _until(stream, OrderTradeUpdate)
        assert after[-1].o.c == "slt-21-entry"  # type: ignore[union-attr]


def test_frames_that_are_not_events_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="not an event"):
        decode_user_event(b"not json")
    with pytest.raises(ValueError, match="malformed ORDER_TRADE_UPDATE"):
        decode_user_event(b'{"e":"ORDER_TRADE_UPDATE","E":1,"T":1,"o":{"s":"BTCUSDT"}}')
    other = decode_user_event(b'{"e":"TRADE_LITE","E":1}')
    assert other.type == "TRADE_LITE"  # type: ignore[union-attr]
