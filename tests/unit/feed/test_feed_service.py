"""The Feed in-process against the local exchange, a real SQLite store and a real ring:
closed candles arrive in the ring in order; malformed, duplicate, out-of-order and
implausible frames are counted while the Feed goes on; a dropped connection reconnects and
the hole is filled from the store; no REST kline call is made unless REST fallback is on,
and then it is, under the weight budget."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson

from slt.domain import Candle
from slt.feed.backfill import RestKlines
from slt.feed.service import FeedService
from slt.runtime.heartbeat import HeartbeatBoard, Phase
from slt.venues.binance.rest import BinanceRest
from slt.venues.binance.urls import local
from slt.venues.local.exchange import DEFAULT_API_KEY, DEFAULT_API_SECRET
from slt.venues.local.streams import MALFORMED_FRAME

from ..venues.local.streams_helpers import sample
from .feed_helpers import MINUTE, SYMBOLS, T0, expected, rig, running_feed, wait_for


def by_symbol(candles: list[Candle]) -> dict[str, list[Candle]]:
    out: dict[str, list[Candle]] = defaultdict(list)
    for c in candles:
        out[c.symbol].append(c)
    return out


def kline_frame(symbol: str, minute: int, close: str, final: bool) -> str:
    t = T0 + minute * MINUTE
    k = {"t": t, "T": t + MINUTE - 1, "s": symbol, "i": "1m", "o": close, "c": close,
         "h": close, "l": close, "v": "1", "x": final}  # fmt: skip
    data = {"e": "kline", "E": t, "s": symbol, "k": k}
    return orjson.dumps({"stream": f"{symbol.lower()}@kline_1m", "data": data}).decode()


async def test_feed_publishes_checks_and_fills_from_the_store(tmp_path: Path) -> None:
    board = HeartbeatBoard.create()
    try:
        async with rig(tmp_path) as r:
            service = FeedService(r.config(), r.ring, store=r.store, board=board)
            async with running_feed(service):
                await wait_for(lambda: len(r.hub.subs) == 4)
                await r.step(1)
                await r.collect(4)
                # bad frames: not JSON, a repeat of a closed candle, a stale update, and a
                # made-up close 10x the LTC price that the firewall must refuse
                r.hub.inject_all(MALFORMED_FRAME)
                r.hub.inject_all(kline_frame("BTCUSDT", 0, "1.0", True))
                r.hub.inject_all(kline_frame("BTCUSDT", 0, "1.0", False))
                price = f"{expected('LTCUSDT', 1).close * 10:.2f}"
                r.hub.inject_all(kline_frame("LTCUSDT", 1, price, True))
                await wait_for(lambda: service.firewall.rejected["jump"] == 1)
                await r.step(2)
                await r.step(3)  # LTCUSDT minute 1 was refused: filled from the store here
                await r.collect(8)
                # a dropped connection: three minutes pass while the stream is down
                r.ex.faults.drop_ws_connections = True
                await wait_for(lambda: not any(service.client.connected))
                await r.step(6)
                r.ex.faults.drop_ws_connections = False
                await wait_for(lambda: service.client.counters.reconnects == 1)
                await wait_for(lambda: len(r.hub.subs) == 4)
                await r.step(7)
                await r.collect(4 * 4)
                stats = service.stats()
            assert r.ex.limits.requests("/fapi/v1/klines") == []
            # inside the rig: its engine is disposed on exit, and a query after that would
            # open a connection that nothing closes
            assert await r.store.count("BTCUSDT", "1m") == len(sample()["BTCUSDT"])
            beat = board.read("feed")
        assert beat.phase is Phase.STOPPED and beat.stats["candles_published"] == 4 * 7
    finally:
        board.close()
    for symbol, mine in by_symbol(r.got).items():
        assert mine == [expected(symbol, m) for m in range(7)], symbol
    c = service.client.counters
    assert c.malformed["invalid_json"] >= 1 and c.duplicates >= 1 and c.out_of_order >= 1
    assert dict(service.firewall.rejected) == {"jump": 1}
    assert service.gaps.from_store == 1 + 4 * 3 and service.gaps.unfilled == 0
    assert stats["rejected"] == 1 and stats["gaps_filled"] == 13 and stats["reconnects"] == 1
    assert stats["symbols_live"] == 4 and stats["ring_overruns"] == 0


async def test_rest_fallback_fills_what_the_store_lacks(tmp_path: Path) -> None:
    async with rig(tmp_path, stored=False) as r:
        rest = BinanceRest(local(r.served.port), DEFAULT_API_KEY, DEFAULT_API_SECRET, timeout_s=5)
        source = RestKlines(rest)
        try:
            config = r.config(rest_fallback=True)
            service = FeedService(config, r.ring, store=r.store, rest=source)
            async with running_feed(service):
                await wait_for(lambda: len(r.hub.subs) == 4)
                await r.step(1)
                await r.collect(4)
                r.ex.faults.drop_ws_connections = True
                await wait_for(lambda: not any(service.client.connected))
                await r.step(4)
                r.ex.faults.drop_ws_connections = False
                await wait_for(lambda: len(r.hub.subs) == 4)
                await r.step(5)
                await r.collect(4 * 4)
        finally:
            await rest.close()
        calls = r.ex.limits.requests("/fapi/v1/klines")
        assert len(calls) == 4 and all(call.status == 200 for call in calls)
        assert source.weight_used == 4 and service.stats()["rest_weight_used"] == 4
        assert service.gaps.from_rest == 12 and service.gaps.from_store == 0
        # what the Feed received (and fetched) is now stored for the next gap or restart
        assert await r.store.count("BTCUSDT", "1m") == 5
    for symbol, mine in by_symbol(r.got).items():
        assert mine == [expected(symbol, m) for m in range(5)], symbol


async def test_a_restart_seeds_the_firewall_from_the_store(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        service = FeedService(r.config(), r.ring, store=r.store)
        async with running_feed(service):
            await wait_for(lambda: len(r.hub.subs) == 4)
            await r.step(1)
            await r.collect(4)
        # seeded from the stored minute before T0: nothing missing, nothing filled
        assert service.gaps.gaps == 0
        assert all(service.firewall.last(s) == (T0, expected(s, 0).close) for s in SYMBOLS)
