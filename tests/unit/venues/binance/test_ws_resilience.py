"""The market-stream client against the local exchange under the faults the issue names: a
connection rotated before the server's lifetime ends loses and repeats nothing; a dropped
connection reconnects and the hole is counted for the Feed; a stalled stream catches up in
order; duplicate, stale and late frames are counted and dropped; close lag is measured."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson

from slt.domain import Candle
from slt.venues.binance.ws import MarketStreamClient, WsClientConfig, local_market_url
from slt.venues.local.streams import StreamSettings

from ..local.streams_helpers import MINUTE, T0, TIMEOUT, make_exchange, running, sample

QUICK: dict[str, Any] = dict(
    backoff_initial_s=0.02, backoff_max_s=0.1, stale_after_s=10.0, open_timeout_s=2.0
)
SYMBOLS = sorted(sample())


def expected(symbol: str, minute: int) -> Candle:
    s = sample()[symbol]
    i = int((s.open_time == T0 + minute * MINUTE).nonzero()[0][0])
    return s.candle(i)


async def take(client: MarketStreamClient, n: int) -> list[Candle]:
    return [await client.next_candle(TIMEOUT) for _ in range(n)]


async def test_rotation_before_the_lifetime_ends_loses_and_repeats_nothing() -> None:
    settings = StreamSettings(tick_s=0.005, max_lifetime_s=0.5)
    async with running(settings=settings) as srv:
        config = WsClientConfig(base_url=local_market_url(srv.port), rotate_after_s=0.1, **QUICK)
        async with MarketStreamClient(SYMBOLS, ["1m"], config) as client:
            await srv.wait_for(lambda: len(srv.hub.subs) == 4)
            got: list[Candle] = []
            for m in range(1, 7):
                # step while the old and the new connection are both open: both get the closes
                await srv.wait_for(lambda: client.open_connections() == 2)
                rotations = client.counters.rotations
                await srv.step(T0 + m * MINUTE)
                got += await take(client, 4)
                await srv.wait_for(lambda r=rotations: client.counters.rotations > r)
            c = client.counters
            assert c.reconnects == 0 and c.gaps == 0 and c.duplicates == 0
            assert c.rotations >= 6 and c.rotation_repeats >= 4
            assert client.pending() == []
    for symbol in SYMBOLS:
        assert [x for x in got if x.symbol == symbol] == [expected(symbol, m) for m in range(6)]


async def test_a_dropped_connection_reconnects_and_counts_the_hole() -> None:
    ex = make_exchange()
    ex.faults = SimpleNamespace(drop_ws_connections=False)
    async with running(ex) as srv:
        config = WsClientConfig(base_url=local_market_url(srv.port), **QUICK)
        async with MarketStreamClient(["BTCUSDT"], ["1m"], config) as client:
            await srv.wait_for(lambda: "btcusdt@kline_1m" in srv.hub.subs)
            await srv.step(T0 + MINUTE)
            first = await client.next_candle(TIMEOUT)
            ex.faults.drop_ws_connections = True
            await srv.wait_for(lambda: not any(client.connected))
            await srv.step(T0 + 4 * MINUTE)  # three candles close while the stream is down
            ex.faults.drop_ws_connections = False
            await srv.wait_for(lambda: client.counters.reconnects == 1)
            await srv.wait_for(lambda: "btcusdt@kline_1m" in srv.hub.subs)
            await srv.step(T0 + 5 * MINUTE)
            after = await client.next_candle(TIMEOUT)
        assert first == expected("BTCUSDT", 0) and after == expected("BTCUSDT", 4)
        assert client.counters.gaps == 1 and client.counters.assembly.missing_candles == 3


async def test_a_stalled_stream_catches_up_in_order() -> None:
    ex = make_exchange()
    ex.faults = SimpleNamespace(stall_streams=set())
    async with running(ex) as srv:
        config = WsClientConfig(base_url=local_market_url(srv.port), **QUICK)
        async with MarketStreamClient(SYMBOLS, ["1m"], config) as client:
            await srv.wait_for(lambda: len(srv.hub.subs) == 4)
            ex.faults.stall_streams = {"btcusdt@kline_1m"}
            await srv.step(T0 + 3 * MINUTE)
            others = await take(client, 9)
            assert {c.symbol for c in others} == set(SYMBOLS) - {"BTCUSDT"}
            ex.faults.stall_streams = set()
            late = await take(client, 3)
        assert late == [expected("BTCUSDT", m) for m in range(3)]
        assert client.counters.gaps == 0 and client.counters.reconnects == 0


def wrap(k: dict[str, object], event_ms: int = T0) -> str:
    data = {"e": "kline", "E": event_ms, "s": "BTCUSDT", "k": k}
    return orjson.dumps({"stream": "btcusdt@kline_1m", "data": data}).decode()


def body(minute: int, close: str, final: bool) -> dict[str, object]:
    t = T0 + minute * MINUTE
    return {"t": t, "T": t + MINUTE - 1, "s": "BTCUSDT", "i": "1m", "o": "10", "c": close,
            "h": "20", "l": "5", "v": "1", "x": final}  # fmt: skip


async def test_injected_duplicate_and_stale_frames_are_counted_and_dropped() -> None:
    async with running() as srv:
        config = WsClientConfig(
            base_url=local_market_url(srv.port), close_lag_from="event", **QUICK
        )
        async with MarketStreamClient(["BTCUSDT"], ["1m"], config) as client:
            await srv.wait_for(lambda: "btcusdt@kline_1m" in srv.hub.subs)
            await srv.step(T0 + MINUTE)
            assert await client.next_candle(TIMEOUT) == expected("BTCUSDT", 0)
            srv.hub.inject_all(wrap(body(0, "11", True)))  # the same close again
            srv.hub.inject_all(wrap(body(0, "12", False)))  # an update of a closed candle
            srv.hub.inject_all("{not json")
            await srv.wait_for(lambda: client.counters.messages >= 4)
            await srv.step(T0 + 2 * MINUTE)
            assert await client.next_candle(TIMEOUT) == expected("BTCUSDT", 1)
        c = client.counters
        assert (c.duplicates, c.out_of_order, c.malformed["invalid_json"]) == (1, 1, 1)
        assert c.close_lag.count == 2 and c.close_lag.max_ms == 0  # replay closes on time


def test_a_late_final_is_closed_by_the_next_update_and_its_lag_measured() -> None:
    client = MarketStreamClient(["BTCUSDT"], ["1m"])
    assert client.decode_all(wrap(body(0, "11", False)), received_ms=T0 + 30_000) == []
    [early] = client.decode_all(wrap(body(1, "12", False)), received_ms=T0 + MINUTE + 400)
    assert early.open_time == T0 and early.close == 11.0
    assert client.decode_all(wrap(body(0, "13", True)), received_ms=T0 + MINUTE + 1500) == []
    c = client.counters
    assert c.late_finals == 1 and c.assembly.early_closes == 1 and c.duplicates == 0
    assert c.close_lag.max_ms == 400
