"""The market-data WebSocket client against the local exchange's stream server on 127.0.0.1:
300 symbols over several connections, no closed candle lost across a forced reconnect, stale
streams and refused handshakes retried with backoff, pings answered, malformed frames counted
and dropped. The server's clock is stepped, so market time only moves when a test says so."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from types import SimpleNamespace

import orjson
import pytest

from slt.domain import Candle
from slt.venues.binance.ws import (
    MarketStreamClient,
    WsClientConfig,
    local_market_url,
    split_urls,
)
from slt.venues.local.streams import StreamSettings

from ..local.streams_helpers import MINUTE, T0, TIMEOUT, make_exchange, renamed, running, sample

QUICK = dict(backoff_initial_s=0.02, backoff_max_s=0.1, stale_after_s=10.0, open_timeout_s=2.0)


def expected(series: dict[str, object], symbol: str, open_time: int) -> Candle:
    s = sample()[symbol]
    i = int((s.open_time == open_time).nonzero()[0][0])
    return s.candle(i)


async def take(client: MarketStreamClient, n: int) -> list[Candle]:
    return [await client.next_candle(TIMEOUT) for _ in range(n)]


def test_urls_split_by_stream_limit_and_url_length() -> None:
    symbols = [f"S{i:03d}USDT" for i in range(300)]
    client = MarketStreamClient(
        symbols, ["1m", "5m"], WsClientConfig(max_streams_per_connection=128)
    )
    urls = client.urls()
    assert len(urls) == 5
    names = [u.split("?streams=")[1].split("/") for u in urls]
    assert all(len(n) <= 128 for n in names)
    assert [s for n in names for s in n] == client.streams
    assert urls[0].startswith("wss://fstream.binance.com/market/stream?streams=s000usdt@kline_1m/")
    short = split_urls("ws://127.0.0.1:1/market", client.streams, 1024, 500)
    assert all(len(u) <= 500 for u in short) and len(short) > 10
    with pytest.raises(ValueError):
        MarketStreamClient(["BTCUSDT"], ["7m"])


def test_backoff_is_exponential_jittered_and_bounded() -> None:
    client = MarketStreamClient(
        ["BTCUSDT"],
        ["1m"],
        WsClientConfig(backoff_initial_s=0.5, backoff_max_s=8, jitter=0.5),
        rng=random.Random(7),
    )
    for attempt in range(12):
        step = min(8, 0.5 * 2**attempt)
        assert step / 2 <= client.backoff(attempt) <= step


async def test_300_symbols_arrive_over_several_connections() -> None:
    series, rules = renamed(300)
    ex = make_exchange(series, rules=rules)
    async with running(ex) as srv:
        config = WsClientConfig(
            base_url=local_market_url(srv.port), max_streams_per_connection=128, **QUICK
        )
        async with MarketStreamClient(sorted(series), ["1m"], config) as client:
            assert len(client.urls()) == 3
            await srv.wait_for(lambda: len(srv.hub.subs) == 300)
            await srv.step(T0 + 2 * MINUTE)
            got = await take(client, 600)
        assert client.counters.connects == 3 and client.counters.closed_candles == 600
    by_symbol: dict[str, list[Candle]] = defaultdict(list)
    for c in got:
        by_symbol[c.symbol].append(c)
    assert len(by_symbol) == 300
    names = sorted(sample())
    for i, name in enumerate(sorted(series)):
        src = names[i % 4]
        want = [expected(series, src, T0 + m * MINUTE) for m in range(2)]
        assert [c.open_time for c in by_symbol[name]] == [T0, T0 + MINUTE]
        for have, w in zip(by_symbol[name], want, strict=True):
            assert (have.open, have.high, have.low, have.close, have.volume) == (
                w.open,
                w.high,
                w.low,
                w.close,
                w.volume,
            )
            assert have.close_time == w.close_time


async def test_no_closed_candle_is_lost_across_a_forced_reconnect() -> None:
    symbols = sorted(sample())
    async with running() as srv:
        config = WsClientConfig(base_url=local_market_url(srv.port), **QUICK)
        async with MarketStreamClient(symbols, ["1m"], config) as client:

            def subscribed() -> bool:
                conns = srv.hub.connections
                return (
                    len(conns) == 1
                    and len(srv.hub.subs) == 4
                    and all(not getattr(c, "closing", True) for c in conns)
                )

            await srv.wait_for(subscribed)
            got = []
            for m in (1, 2):
                await srv.step(T0 + m * MINUTE)
                got += await take(client, 4)
            srv.hub.drop_all()
            await srv.wait_for(lambda: client.counters.reconnects == 1)
            await srv.wait_for(subscribed)
            for m in (3, 4, 5):
                await srv.step(T0 + m * MINUTE + 10_000)
                got += await take(client, 4)
        assert client.counters.gaps == 0 and client.counters.duplicates == 0
    for symbol in symbols:
        mine = [c for c in got if c.symbol == symbol]
        assert mine == [expected({}, symbol, T0 + m * MINUTE) for m in range(5)]


async def test_refused_handshakes_are_retried_until_the_server_is_back() -> None:
    ex = make_exchange()
    ex.faults = SimpleNamespace(drop_ws_connections=True)
    async with running(ex) as srv:
        config = WsClientConfig(base_url=local_market_url(srv.port), **QUICK)
        async with MarketStreamClient(["BTCUSDT"], ["1m"], config) as client:
            await srv.wait_for(lambda: client.counters.failed_attempts >= 2)
            assert client.counters.connects == 0
            ex.faults.drop_ws_connections = False
            await srv.wait_for(lambda: "btcusdt@kline_1m" in srv.hub.subs)
            await srv.step(T0 + MINUTE)
            candle = await client.next_candle(TIMEOUT)
        assert candle == expected({}, "BTCUSDT", T0)


async def test_a_silent_stream_is_treated_as_dead_and_reopened() -> None:
    async with running() as srv:
        config = WsClientConfig(
            base_url=local_market_url(srv.port), **{**QUICK, "stale_after_s": 0.15}
        )
        async with MarketStreamClient(["BTCUSDT"], ["1m"], config) as client:
            await srv.wait_for(
                lambda: client.counters.stale >= 1 and client.counters.reconnects >= 1
            )


async def test_server_pings_are_answered() -> None:
    settings = StreamSettings(
        tick_s=0.005, ping_interval_s=0.05, pong_timeout_s=0.5, max_incoming_per_s=100
    )
    async with running(settings=settings) as srv:
        config = WsClientConfig(base_url=local_market_url(srv.port), **QUICK)
        async with MarketStreamClient(["BTCUSDT"], ["1m"], config) as client:
            await srv.wait_for(lambda: client.counters.connects == 1)
            await asyncio.sleep(0.8)
            assert client.counters.reconnects == 0 and all(client.connected)


async def test_malformed_frames_are_counted_and_dropped() -> None:
    ex = make_exchange()
    ex.faults = SimpleNamespace(malformed_frames=0)
    async with running(ex) as srv:
        config = WsClientConfig(base_url=local_market_url(srv.port), **QUICK)
        async with MarketStreamClient(["BTCUSDT"], ["1m"], config) as client:
            await srv.wait_for(lambda: "btcusdt@kline_1m" in srv.hub.subs)
            ex.faults.malformed_frames = 3
            for m in (1, 2):
                await srv.step(T0 + m * MINUTE)
            got = await take(client, 2)
        assert [c.open_time for c in got] == [T0, T0 + MINUTE]
        assert client.counters.malformed["invalid_json"] == 3
        assert client.counters.reconnects == 0


def frame(stream: str = "btcusdt@kline_1m", **k: object) -> bytes:
    body: dict[str, object] = {
        "t": T0, "T": T0 + MINUTE - 1, "s": "BTCUSDT", "i": "1m", "f": 1, "L": 2,
        "o": "100.0", "c": "101.0", "h": "102.0", "l": "99.0", "v": "5", "n": 2, "x": True,
        "q": "500", "V": "2", "Q": "200", "B": "0",
    }  # fmt: skip
    body.update(k)
    return orjson.dumps(
        {"stream": stream, "data": {"e": "kline", "E": T0, "s": "BTCUSDT", "k": body}}
    )


def test_decode_counts_each_kind_of_bad_frame() -> None:
    client = MarketStreamClient(["BTCUSDT"], ["1m"])
    assert client.decode(frame()) == Candle("BTCUSDT", T0, T0 + MINUTE - 1, 100, 102, 99, 101, 5)
    assert client.decode(frame()) is None  # the same close again
    assert client.decode(frame(x=False, t=T0 + MINUTE, T=T0 + 2 * MINUTE - 1)) is None
    bad = [
        (b"not json", "invalid_json"),
        (b'{"result":null,"id":1}', "not_a_stream_event"),
        (frame("ethusdt@kline_1m"), "unexpected_stream"),
        (frame(o=100.0), "invalid_kline"),
        (frame(s="ETHUSDT"), "stream_mismatch"),
        (frame(o="abc"), "invalid_number"),
        (frame(h="NaN"), "invalid_number"),
        (frame(T=T0), "inconsistent"),
        (frame(h="98.0"), "inconsistent"),
    ]
    for raw, reason in bad:
        before = client.counters.malformed[reason]
        assert client.decode(raw) is None
        assert client.counters.malformed[reason] == before + 1, reason
    later = client.decode(frame(t=T0 + 3 * MINUTE, T=T0 + 4 * MINUTE - 1))
    assert later is not None and client.counters.gaps == 1
    assert client.counters.duplicates == 1 and client.counters.closed_candles == 2
    assert client.counters.messages == 3 + len(bad) + 1
