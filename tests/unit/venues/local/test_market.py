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
from slt.venues.local.market import MarketReplay, path_price, revealed

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
