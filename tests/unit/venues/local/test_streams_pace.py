"""Stream pace when the replay runs faster than real time, and the payload number formats."""

from __future__ import annotations

import asyncio
from collections import Counter

from slt.rules import bundled_rules
from slt.venues.local.clock import ReplayClock
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.market import MarketReplay
from slt.venues.local.market_text import precision_for
from slt.venues.local.streams import StreamSettings, parse_stream
from slt.venues.local.streams_payloads import fmt

from .streams_helpers import MINUTE, T0, TIMEOUT, recv, running, sample, ws_client


async def test_fast_replay_caps_forming_updates_and_closes_every_candle_in_order() -> None:
    clock = ReplayClock(T0, speed=3000)  # 50 market minutes a wall second
    ex = LocalExchange(MarketReplay(sample(), clock), bundled_rules(), clock)
    # 1 ms of wall between updates would be 3 s of market: the cap (60 s / 3) wins
    settings = StreamSettings(tick_s=0.002, kline_update_ms=1, max_kline_updates=3)
    async with (
        running(ex, settings) as srv,
        ws_client(srv.url("/market/ws/btcusdt@kline_1m")) as ws,
    ):
        frames = []
        async with asyncio.timeout(TIMEOUT):
            while sum(1 for f in frames if f["k"]["x"]) < 12:
                frames.append(await recv(ws))
    closes = [f["k"]["t"] for f in frames if f["k"]["x"]]
    first = closes[0]
    assert closes == [first + i * MINUTE for i in range(len(closes))]
    forming = Counter(f["k"]["t"] for f in frames if not f["k"]["x"])
    assert forming and max(forming.values()) <= 3
    assert srv.hub.settings.max_kline_updates == 3


def test_stream_names_parse_like_binance() -> None:
    k = parse_stream("btcusdt@kline_15m")
    assert k is not None and (k.kind, k.symbol, k.interval, k.period_ms) == (
        "kline",
        "BTCUSDT",
        "15m",
        15 * MINUTE,
    )
    m = parse_stream("ethusdt@markPrice@1s")
    assert m is not None and (m.kind, m.period_ms) == ("markPrice", 1000)
    a = parse_stream("!markPrice@arr")
    assert a is not None and (a.kind, a.period_ms) == ("markPriceArr", 3000)
    b = parse_stream("bnbusdt@bookTicker")
    assert b is not None and b.kind == "bookTicker"
    for bad in ("BTCUSDT@kline_1m", "btcusdt@kline_7m", "btcusdt@depth", "btcusdt", ""):
        assert parse_stream(bad) is None


def test_numbers_use_the_symbol_precision() -> None:
    btc = precision_for(bundled_rules(), "BTCUSDT")
    assert (btc.price, btc.qty, btc.quote) == (2, 3, 5)
    doge = precision_for(None, "DOGEUSDT")  # the bundled capture when the exchange has none
    assert (doge.price, doge.qty) == (6, 0)
    unknown = precision_for(None, "NOPEUSDT")
    assert unknown.price == 8
    assert fmt(-0.0001, 2) == "0.00" and fmt(109319.7, 2) == "109319.70"
