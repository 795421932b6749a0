"""The replayed market: the intrabar path reveals only real prices and ends exactly on the
stored candle; klines of any interval are the 1m candles aggregated, forming one included;
the replay clock moves only forward."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from slt.domain import CandleSeries
from slt.venues.local.clock import ReplayClock
from slt.venues.local.errors import ApiError
from slt.venues.local.market import (
    MarketReplay,
    path_price,
    quote_volume,
    revealed,
    trade_count,
    trade_ids,
)

T0 = 1_749_513_600_000  # 2025-06-10 00:00 UTC
MIN = 60_000


def series(
    symbol: str, rows: list[tuple[float, float, float, float]], start: int = T0
) -> CandleSeries:
    a = np.asarray(rows, dtype=np.float64)
    ot = start + MIN * np.arange(len(rows), dtype=np.int64)
    return CandleSeries(
        symbol, "1m", ot, a[:, 0], a[:, 1], a[:, 2], a[:, 3], np.full(len(rows), 6.0)
    )


ROWS = [(100, 105, 99, 104), (104, 104.5, 101, 102), (102, 103, 100, 101), (101, 110, 101, 109)]


@pytest.fixture
def market() -> MarketReplay:
    return MarketReplay({"BTCUSDT": series("BTCUSDT", ROWS)}, ReplayClock(T0, speed=0))


@st.composite
def candles(draw: st.DrawFn) -> tuple[float, float, float, float]:
    o = draw(st.floats(1, 1e5))
    c = draw(st.floats(1, 1e5))
    h = max(o, c) + draw(st.floats(0, 1e3))
    low = min(o, c) - draw(st.floats(0, min(o, c) - 0.5))
    return o, h, low, c


@given(candles(), st.floats(0, 1), st.floats(0, 1))
def test_the_path_stays_inside_the_candle_and_ends_on_it(
    c: tuple[float, float, float, float], f: float, g: float
) -> None:
    o, h, low, close = c
    assert low <= path_price(o, h, low, close, f) <= h
    assert path_price(o, h, low, close, 0.0) == o and path_price(o, h, low, close, 1.0) == close
    hi_f, lo_f, _ = revealed(o, h, low, close, min(f, g))
    hi_g, lo_g, _ = revealed(o, h, low, close, max(f, g))
    assert hi_f <= hi_g and lo_f >= lo_g  # what has been seen only grows
    assert revealed(o, h, low, close, 1.0) == (h, low, close)


def test_forming_candle_reveals_the_path_then_closes_exactly(market: MarketReplay) -> None:
    at = market.forming("BTCUSDT", T0 + 20_000)  # a third in: the rising candle is at its low
    assert at is not None and not at.closed
    assert (at.open, at.low, at.close) == (100, 99, 99) and at.high == 100
    assert at.volume == pytest.approx(2.0)
    end = market.forming("BTCUSDT", T0 + MIN - 1)
    assert end is not None and not end.closed and end.high == 105
    nxt = market.forming("BTCUSDT", T0 + MIN)
    assert nxt is not None and nxt.open_time == T0 + MIN and nxt.close == 104
    assert market.forming("BTCUSDT", T0 - 1) is None
    assert market.last_price("BTCUSDT", T0 + 10 * MIN) == 109  # after the data: last close


def test_path_between_lists_every_vertex_in_order(market: MarketReplay) -> None:
    assert market.path_between("BTCUSDT", T0, T0 + MIN) == [100, 99, 105, 104]
    two = market.path_between("BTCUSDT", T0 + 30_000, T0 + MIN + 30_000)
    assert two[:3] == [pytest.approx(102), 105, 104] and two[3:5] == [104, 104.5]
    falling = market.path_between("BTCUSDT", T0 + MIN, T0 + 2 * MIN - 1)
    assert falling[:3] == [104, 104.5, 101] and falling[-1] == pytest.approx(102, abs=1e-3)
    assert market.path_between("BTCUSDT", T0 + MIN, T0 + MIN) == []


def test_klines_aggregate_and_show_the_forming_candle(market: MarketReplay) -> None:
    closed = market.klines("BTCUSDT", "1m", now_ms=T0 + 4 * MIN)
    assert [(k.open, k.high, k.low, k.close, k.closed) for k in closed] == [
        (*r, True) for r in ROWS
    ]
    forming = market.klines("BTCUSDT", "1m", now_ms=T0 + 2 * MIN + 30_000)
    assert len(forming) == 3 and not forming[-1].closed and forming[-1].close != 101
    three = market.klines("BTCUSDT", "3m", now_ms=T0 + 4 * MIN)
    first = three[0]
    assert (first.open_time, first.open, first.high, first.low, first.close) == (
        T0,
        100,
        105,
        99,
        101,
    )
    assert first.closed and not three[1].closed and first.volume == 18
    assert len(market.klines("BTCUSDT", "1m", limit=2, now_ms=T0 + 4 * MIN)) == 2
    ranged = market.klines(
        "BTCUSDT", "1m", start_ms=T0 + MIN, end_ms=T0 + 2 * MIN, now_ms=T0 + 9 * MIN
    )
    assert [k.open_time for k in ranged] == [T0 + MIN, T0 + 2 * MIN]
    with pytest.raises(ApiError) as bad:
        market.klines("BTCUSDT", "7m")
    assert bad.value.code == -1120
    with pytest.raises(ApiError) as unknown:
        market.klines("NOPEUSDT", "1m")
    assert unknown.value.code == -1121


def test_derived_fields_of_a_candle_closed_and_forming(market: MarketReplay) -> None:
    closed = market.forming("BTCUSDT", T0 + MIN - 1)
    k = market.klines("BTCUSDT", "1m", now_ms=T0 + MIN)[0]
    s0 = T0 // 1000
    # volume × typical price (100 + 105 + 99 + 104) / 4, one trade a second, ids those seconds
    assert (k.quote_volume, k.trades, k.first_trade_id, k.last_trade_id) == (612, 60, s0, s0 + 59)
    assert (k.taker_buy_volume, k.taker_buy_quote_volume) == (3, 306)
    assert closed is not None and closed.trades == 60 and not closed.closed
    third = market.forming("BTCUSDT", T0 + 20_000)  # revealed so far: o 100, h 100, l 99, c 99
    assert third is not None
    assert third.quote_volume == pytest.approx(2 * (100 + 100 + 99 + 99) / 4)
    assert (third.trades, third.first_trade_id, third.last_trade_id) == (20, s0, s0 + 19)
    assert trade_count(1.0, 1) == 1 and trade_count(1.0, 0) == trade_count(0.0, MIN) == 0
    assert trade_ids(T0, 0) == (-1, -1) and quote_volume(1.0, 2.0, 1.0, 2.0, 2.0) == 3.0
    three = market.klines("BTCUSDT", "3m", now_ms=T0 + 4 * MIN)[0]
    ones = market.klines("BTCUSDT", "1m", now_ms=T0 + 4 * MIN)[:3]
    assert three.quote_volume == sum(o.quote_volume for o in ones)
    assert (three.trades, three.first_trade_id, three.last_trade_id) == (180, s0, s0 + 179)


def test_one_kline_is_the_same_candle_klines_show_and_minutes_without_volume_trade_nothing() -> (
    None
):
    rng = np.random.default_rng(7)
    n = 300
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    open_ = np.r_[100.0, close[:-1]]
    volume = rng.uniform(0, 5, n)
    volume[[0, 1, 150]] = 0.0  # the first two minutes and one in the middle traded nothing
    s = CandleSeries(
        "BTCUSDT",
        "1m",
        T0 + MIN * np.arange(n, dtype=np.int64),
        open_,
        np.maximum(open_, close) + 0.5,
        np.minimum(open_, close) - 0.5,
        close,
        volume,
    )
    m = MarketReplay({"BTCUSDT": s}, ReplayClock(T0, speed=0))
    now = T0 + (n - 1) * MIN + 12_345  # the last minute forming
    for interval in ("1m", "5m", "1h", "4h"):  # 4h: more closed minutes than one by one
        for k in m.klines("BTCUSDT", interval, limit=1000, now_ms=now):
            assert m.kline("BTCUSDT", interval, k.open_time, now) == k
    day = m.klines("BTCUSDT", "4h", now_ms=now)
    assert sum(k.trades for k in day) == 60 * (n - 1 - 3) + 13
    ones = m.klines("BTCUSDT", "1m", limit=1000, now_ms=now)
    assert (ones[0].trades, ones[0].first_trade_id, ones[150].last_trade_id) == (0, -1, -1)
    assert day[0].first_trade_id == ones[2].first_trade_id == (T0 + 2 * MIN) // 1000
    assert day[-1].last_trade_id == now // 1000
    assert sum(k.quote_volume for k in day) == pytest.approx(sum(k.quote_volume for k in ones))
    assert m.kline("BTCUSDT", "1m", T0 + n * MIN, now) is None


def test_a_missing_minute_has_no_candle_and_keeps_the_last_close() -> None:
    gap = series("ETHUSDT", ROWS[:2], T0)
    later = series("ETHUSDT", ROWS[2:], T0 + 5 * MIN)
    joined = CandleSeries(
        "ETHUSDT",
        "1m",
        np.r_[gap.open_time, later.open_time],
        np.r_[gap.open, later.open],
        np.r_[gap.high, later.high],
        np.r_[gap.low, later.low],
        np.r_[gap.close, later.close],
        np.r_[gap.volume, later.volume],
    )
    m = MarketReplay({"ETHUSDT": joined}, ReplayClock(T0, speed=0))
    assert m.forming("ETHUSDT", T0 + 3 * MIN) is None
    assert m.last_price("ETHUSDT", T0 + 3 * MIN) == 102


def test_the_clock_runs_at_its_speed_and_never_backwards() -> None:
    wall = [0.0]
    clock = ReplayClock(T0, speed=60, wall=lambda: wall[0])
    wall[0] = 1.5
    assert clock.now_ms() == T0 + 90_000
    clock.set_speed(0)
    wall[0] = 10
    assert clock.now_ms() == T0 + 90_000
    clock.advance_to(T0 + MIN * 5)
    assert clock.now_ms() == T0 + 5 * MIN
    with pytest.raises(ValueError, match="back"):
        clock.advance_to(T0)
