"""Market streams of the local exchange over a real socket: Binance's kline, markPrice and
bookTicker payloads from the replay, one closing update per candle in order whatever the clock
does, routes, and the stream fault switches."""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace

import aiohttp
import pytest

from slt.venues.local.streams import MALFORMED_FRAME, StreamSettings

from .streams_helpers import (
    FAST,
    MINUTE,
    T0,
    TIMEOUT,
    closed_by_server,
    make_exchange,
    recv,
    recv_until,
    running,
    sample,
    ws_client,
)

KLINE_KEYS = ["t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"]


def stored(symbol: str, open_time: int) -> dict[str, float]:
    s = sample()[symbol]
    i = int((s.open_time == open_time).nonzero()[0][0])
    return {
        "o": float(s.open[i]),
        "h": float(s.high[i]),
        "l": float(s.low[i]),
        "c": float(s.close[i]),
        "v": float(s.volume[i]),
    }


def is_close(frame: dict[str, object]) -> bool:
    k = frame.get("k")
    return isinstance(k, dict) and k["x"] is True


async def test_kline_payload_has_binance_keys_and_the_close_equals_the_stored_candle() -> None:
    async with running() as srv, ws_client(srv.url("/market/ws/btcusdt@kline_1m")) as ws:
        await srv.wait_for(lambda: "btcusdt@kline_1m" in srv.hub.subs)
        await srv.step(T0 + 20_000)
        frames = await recv_until(ws, lambda f: f["E"] == T0 + 20_000)
        upd = frames[-1]
        assert list(upd) == ["e", "E", "s", "k"]
        assert (upd["e"], upd["s"]) == ("kline", "BTCUSDT")
        k = upd["k"]
        assert list(k) == KLINE_KEYS
        assert (k["t"], k["T"], k["s"], k["i"], k["x"]) == (
            T0,
            T0 + MINUTE - 1,
            "BTCUSDT",
            "1m",
            False,
        )
        for key in ("t", "T", "f", "L", "n"):
            assert type(k[key]) is int
        for key in ("o", "c", "h", "l"):
            assert re.fullmatch(r"\d+\.\d{2}", k[key]), k[key]  # BTCUSDT pricePrecision 2
        for key in ("v", "V"):
            assert re.fullmatch(r"\d+\.\d{3}", k[key]), k[key]  # quantityPrecision 3
        assert re.fullmatch(r"\d+\.\d{5}", k["q"]) and k["B"] == "0"
        assert k["n"] == 20 and k["L"] - k["f"] + 1 == k["n"]
        want = stored("BTCUSDT", T0)
        assert float(k["l"]) >= want["l"] and float(k["h"]) <= want["h"]
        assert float(k["v"]) == pytest.approx(want["v"] / 3, abs=0.001)

        await srv.step(T0 + MINUTE)
        close = (await recv_until(ws, is_close))[-1]
        k = close["k"]
        assert close["E"] == T0 + MINUTE and (k["t"], k["x"]) == (T0, True)
        assert {c: float(k[c]) for c in "ohlcv"} == want
        assert k["o"] == f"{want['o']:.2f}" and k["v"] == f"{want['v']:.3f}"
        assert k["n"] == 60


async def test_exactly_one_closing_update_per_candle_in_order_across_clock_jumps() -> None:
    async with running() as srv, ws_client(srv.url("/market/ws/ltcusdt@kline_1m")) as ws:
        await srv.wait_for(lambda: "ltcusdt@kline_1m" in srv.hub.subs)
        for t in (10_000, 70_000, 4 * MINUTE + 5_000, 4 * MINUTE + 50_000, 5 * MINUTE):
            await srv.step(T0 + t)
        frames = await recv_until(ws, lambda f: is_close(f) and f["k"]["t"] == T0 + 4 * MINUTE)
        await srv.step(T0 + 5 * MINUTE + 30_000)
        frames += await recv_until(ws, lambda f: f["E"] == T0 + 5 * MINUTE + 30_000)
        closes = [f["k"]["t"] for f in frames if is_close(f)]
        assert closes == [T0 + i * MINUTE for i in range(5)]
        for f in frames:
            if is_close(f):
                want = stored("LTCUSDT", f["k"]["t"])
                assert {c: float(f["k"][c]) for c in "ohlcv"} == want
        times = [f["E"] for f in frames]
        assert times == sorted(times)


async def test_a_late_pump_still_closes_every_candle() -> None:
    """A 45-minute jump (the server was busy) sends all 45 closes, in order."""
    async with running() as srv, ws_client(srv.url("/market/ws/dogeusdt@kline_1m")) as ws:
        await srv.wait_for(lambda: "dogeusdt@kline_1m" in srv.hub.subs)
        await srv.step(T0 + 45 * MINUTE)
        frames = await recv_until(ws, lambda f: is_close(f) and f["k"]["t"] == T0 + 44 * MINUTE)
        assert [f["k"]["t"] for f in frames if is_close(f)] == [T0 + i * MINUTE for i in range(45)]
        last = frames[-1]["k"]
        assert last["c"] == f"{stored('DOGEUSDT', T0 + 44 * MINUTE)['c']:.6f}"


async def test_five_minute_close_aggregates_the_stored_minutes() -> None:
    async with running() as srv, ws_client(srv.url("/market/ws/adausdt@kline_5m")) as ws:
        await srv.wait_for(lambda: "adausdt@kline_5m" in srv.hub.subs)
        await srv.step(T0 + 5 * MINUTE)
        k = (await recv_until(ws, is_close))[-1]["k"]
        rows = [stored("ADAUSDT", T0 + i * MINUTE) for i in range(5)]
        assert (k["t"], k["T"], k["i"]) == (T0, T0 + 5 * MINUTE - 1, "5m")
        assert float(k["o"]) == rows[0]["o"] and float(k["c"]) == rows[-1]["c"]
        assert float(k["h"]) == max(r["h"] for r in rows)
        assert float(k["l"]) == min(r["l"] for r in rows)
        assert k["v"] == f"{sum(r['v'] for r in rows):.0f}"


async def test_combined_stream_wraps_and_mark_price_has_binance_keys() -> None:
    url = "/market/stream?streams=btcusdt@markPrice@1s/ltcusdt@kline_1m"
    async with running() as srv, ws_client(srv.url(url)) as ws:
        await srv.wait_for(lambda: len(srv.hub.subs) == 2)
        await srv.step(T0 + 30_000)
        frames = await recv_until(ws, lambda f: f["stream"] == "btcusdt@markPrice@1s")
        mark = frames[-1]
        assert list(mark) == ["stream", "data"]
        data = mark["data"]
        assert list(data) == ["e", "E", "s", "p", "ap", "i", "P", "r", "T"]
        assert data["e"] == "markPriceUpdate" and re.fullmatch(r"\d+\.\d{8}", data["p"])
        assert data["T"] > data["E"] and data["T"] % (8 * 3_600_000) == 0
        price = srv.ex.market.mark_price("BTCUSDT", data["E"])
        assert float(data["p"]) == pytest.approx(price, abs=1e-8)


async def test_routes_serve_only_their_stream_kinds() -> None:
    async with (
        running() as srv,
        ws_client(srv.url("/public/ws/btcusdt@kline_1m/btcusdt@bookTicker")) as ws,
    ):
        await srv.wait_for(lambda: "btcusdt@bookTicker" in srv.hub.subs)
        assert "btcusdt@kline_1m" not in srv.hub.subs  # /market only
        for t in (10_000, 20_000, MINUTE):
            await srv.step(T0 + t)
        frames = await recv_until(ws, lambda f: f["E"] == T0 + MINUTE)
        assert {f["e"] for f in frames} == {"bookTicker"}
        book = frames[-1]
        assert list(book) == ["e", "u", "E", "T", "s", "b", "B", "a", "A"]
        last = srv.ex.market.last_price("BTCUSDT", T0 + MINUTE)
        assert float(book["b"]) <= last <= float(book["a"])
        assert float(book["a"]) - float(book["b"]) == pytest.approx(0.1)  # one tick
        ids = [f["u"] for f in frames]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
    async with running() as srv, ws_client(srv.url("/market/ws/btcusdt@bookTicker")) as ws:
        await srv.wait_for(lambda: len(srv.hub.connections) == 1)
        assert srv.hub.subs == {}  # bookTicker is /public only


async def test_stalled_stream_sends_nothing_then_every_close_in_order() -> None:
    ex = make_exchange()
    ex.faults = SimpleNamespace(stall_streams={"btcusdt@kline_1m"})
    async with running(ex) as srv, ws_client(srv.url("/ws/btcusdt@kline_1m")) as ws:
        await srv.wait_for(lambda: "btcusdt@kline_1m" in srv.hub.subs)
        await srv.step(T0 + 3 * MINUTE)
        with pytest.raises(TimeoutError):
            await recv(ws, timeout=0.1)
        ex.faults.stall_streams = set()
        frames = await recv_until(ws, lambda f: is_close(f) and f["k"]["t"] == T0 + 2 * MINUTE)
        assert [f["k"]["t"] for f in frames if is_close(f)] == [T0, T0 + MINUTE, T0 + 2 * MINUTE]


async def test_drop_fault_closes_connections_and_refuses_new_ones() -> None:
    ex = make_exchange()
    ex.faults = SimpleNamespace(drop_ws_connections=False, malformed_frames=0)
    async with running(ex) as srv:
        async with ws_client(srv.url("/ws/btcusdt@kline_1m")) as ws:
            await srv.wait_for(lambda: srv.hub.subs)
            ex.faults.drop_ws_connections = True
            assert await closed_by_server(ws) == 1001
        with pytest.raises(aiohttp.WSServerHandshakeError):
            async with ws_client(srv.url("/ws/btcusdt@kline_1m")):
                pass
        ex.faults.drop_ws_connections = False
        async with ws_client(srv.url("/ws/btcusdt@kline_1m")) as ws:
            ex.faults.malformed_frames = 2
            await srv.wait_for(lambda: srv.hub.subs)
            await srv.step(T0 + MINUTE)
            texts = []
            for _ in range(4):
                texts.append((await asyncio.wait_for(ws.receive(), TIMEOUT)).data)
            assert texts.count(MALFORMED_FRAME) == 2
            assert ex.faults.malformed_frames == 0


async def test_slow_reader_skips_forming_updates_but_never_a_close() -> None:
    from typing import Any, cast

    from slt.venues.local.streams import StreamHub
    from slt.venues.local.streams_server import Connection
    from slt.venues.local.userstream import UserStreams

    ex = make_exchange()
    hub = StreamHub(ex, StreamSettings(queue_soft_limit=2, queue_hard_limit=5))
    conn = Connection(cast(Any, None), hub, UserStreams(), "market", combined=True)
    for i in range(4):
        conn.deliver("s", f'{{"n":{i}}}', final=False)
    conn.deliver("s", '{"n":"close"}', final=True)
    assert list(conn.queue) == [
        '{"stream":"s","data":{"n":0}}',
        '{"stream":"s","data":{"n":1}}',
        '{"stream":"s","data":{"n":"close"}}',
    ]
    assert conn.skipped == 2 and not conn.closing
    for _ in range(3):
        conn.deliver("s", "{}", final=True)
    assert conn.closing  # past the hard limit: disconnected as too slow


def test_settings_defaults_are_binance_numbers() -> None:
    s = StreamSettings()
    assert (s.max_streams, s.max_incoming_per_s) == (1024, 10)
    assert (s.ping_interval_s, s.pong_timeout_s, s.max_lifetime_s) == (180, 600, 86_400)
    assert s.kline_update_ms == 250
    assert FAST.tick_s < 0.05
