"""Public endpoints against the bundled real candles: exact kline rows (closed and forming),
aggregation, tickers, mark price and funding time, brackets, commission, exchange info, and
their error answers."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from slt.data.sample import SAMPLE_FIRST_OPEN_MS
from slt.domain import CandleSeries
from slt.rules import bundled_rules
from slt.venues.local.clock import wall_ms
from slt.venues.local.routes_public import next_funding_ms

if TYPE_CHECKING:
    from conftest import Client

MINUTE = 60_000
NOW = SAMPLE_FIRST_OPEN_MS + 3 * 86_400_000 + 20 * MINUTE + 30_000  # as in conftest


def dec(x: float, places: int) -> str:
    return f"{Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-places)):f}"


async def test_closed_1m_rows_are_the_stored_candles(
    client: Client, sample: dict[str, CandleSeries]
) -> None:
    start = NOW - 30_000 - 2 * MINUTE
    status, _, rows = await client.get(
        "/fapi/v1/klines", symbol="BTCUSDT", interval="1m", startTime=start, limit=3
    )
    assert status == 200
    assert rows[0] == [
        1749811980000, "104651.20", "104671.30", "104642.10", "104656.70", "23.810",
        1749812039999, "2491843.28825", 60, "11.905", "1245921.64412", "0",
    ]  # fmt: skip
    for symbol, pp, qp in (("BTCUSDT", 2, 3), ("DOGEUSDT", 6, 0), ("ADAUSDT", 5, 0)):
        _, _, rows = await client.get(
            "/fapi/v1/klines", symbol=symbol, interval="1m", endTime=NOW - MINUTE, limit=1000
        )
        s = sample[symbol]
        assert len(rows) == 1000
        first = int((s.open_time == rows[0][0]).nonzero()[0][0])
        for j, row in enumerate(rows):
            i = first + j
            assert row[0] == int(s.open_time[i]) and row[6] == row[0] + MINUTE - 1
            assert row[1:5] == [dec(s.open[i], pp), dec(s.high[i], pp), dec(s.low[i], pp),
                                dec(s.close[i], pp)]  # fmt: skip
            assert row[5] == dec(s.volume[i], qp)
            # volume × typical price, to the quote decimals (the last one may differ by the
            # float the replay computes it in)
            typical = sum(Decimal(x) for x in row[1:5]) / 4
            assert abs(Decimal(row[7]) - Decimal(row[5]) * typical) <= Decimal(10) ** -(pp + qp)
            assert row[8] == (60 if s.volume[i] > 0 else 0) and row[11] == "0"


async def test_the_last_row_is_the_forming_candle(
    client: Client, sample: dict[str, CandleSeries]
) -> None:
    _, _, rows = await client.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=2)
    forming = client.ex.market.forming("BTCUSDT", NOW)
    assert forming is not None and not forming.closed
    last = rows[-1]
    assert last[0] == NOW - 30_000 and last[6] == NOW - 30_000 + MINUTE - 1
    s = sample["BTCUSDT"]
    i = int((s.open_time == last[0]).nonzero()[0][0])
    assert last[1] == dec(s.open[i], 2)
    # half the minute has passed: half the volume, the intrabar path's extremes so far
    assert last[5] == dec(float(s.volume[i]) / 2, 3)
    assert last[4] == dec(forming.close, 1) + "0"
    assert Decimal(last[2]) >= Decimal(last[4]) >= Decimal(last[3])
    client.ex.clock.advance_to(NOW + 30_000)  # the candle closes: now exactly as stored
    _, _, rows = await client.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=2)
    assert rows[0][1:6] == [dec(s.open[i], 2), dec(s.high[i], 2), dec(s.low[i], 2),
                            dec(s.close[i], 2), dec(s.volume[i], 3)]  # fmt: skip


async def test_higher_intervals_aggregate_the_1m_candles(client: Client) -> None:
    end = NOW - 30_000 - 5 * MINUTE
    _, _, ones = await client.get(
        "/fapi/v1/klines", symbol="DOGEUSDT", interval="1m", endTime=end + 4 * MINUTE, limit=5
    )
    _, _, fives = await client.get(
        "/fapi/v1/klines", symbol="DOGEUSDT", interval="5m", startTime=ones[0][0], limit=1
    )
    assert ones[0][0] % (5 * MINUTE) == 0
    # the 5m quote volume is the 1m ones summed (each row rounds its own to 6 + 0 decimals)
    assert abs(Decimal(fives[0][7]) - sum(Decimal(r[7]) for r in ones)) <= Decimal("3e-6")
    assert fives == [
        [
            ones[0][0],
            ones[0][1],
            max(ones, key=lambda r: Decimal(r[2]))[2],
            min(ones, key=lambda r: Decimal(r[3]))[3],
            ones[-1][4],
            str(sum(int(r[5]) for r in ones)),
            ones[0][0] + 5 * MINUTE - 1,
            fives[0][7],
            sum(r[8] for r in ones),
            fives[0][9],
            fives[0][10],
            "0",
        ]
    ]


@pytest.mark.parametrize(
    ("params", "code", "msg"),
    [
        ({"symbol": "BTCUSDT", "interval": "7m"}, -1120, "Invalid interval."),
        ({"symbol": "ETHUSDT", "interval": "1m"}, -1121, "Invalid symbol."),
        ({"symbol": "NOPE", "interval": "1m"}, -1121, "Invalid symbol."),
        (
            {"interval": "1m"},
            -1102,
            "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
        ),
        (
            {"symbol": "BTCUSDT"},
            -1102,
            "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
        ),
        (
            {"symbol": "BTCUSDT", "interval": "1m", "limit": 1501},
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        ),
        (
            {"symbol": "BTCUSDT", "interval": "1m", "limit": 0},
            -1130,
            "Data sent for parameter 'limit' is not valid.",
        ),
        (
            {"symbol": "BTCUSDT", "interval": "1m", "startTime": "x1"},
            -1100,
            "Illegal characters found in parameter 'startTime'; legal range is '^[0-9]{1,20}$'.",
        ),
        (
            {"symbol": "BTCUSDT", "interval": "1m", "startTime": 2, "endTime": 1},
            -1023,
            "Start time is greater than end time.",
        ),
    ],
)
async def test_kline_errors(client: Client, params: dict[str, object], code: int, msg: str) -> None:
    status, _, body = await client.get("/fapi/v1/klines", **params)
    assert (status, body) == (400, {"code": code, "msg": msg})


async def test_klines_limits_and_ranges(client: Client) -> None:
    _, _, rows = await client.get("/fapi/v1/klines", symbol="LTCUSDT", interval="1m")
    assert len(rows) == 500 and rows[-1][0] == NOW - 30_000
    _, _, rows = await client.get("/fapi/v1/klines", symbol="LTCUSDT", interval="1h", limit=1500)
    assert len(rows) == 73  # three days and the forming hour
    assert rows[0][0] == SAMPLE_FIRST_OPEN_MS - 35 * MINUTE  # the hour of the first candle
    first = SAMPLE_FIRST_OPEN_MS
    _, _, rows = await client.get(
        "/fapi/v1/klines", symbol="LTCUSDT", interval="1m", startTime=first, endTime=first + 120_000
    )
    assert [r[0] for r in rows] == [first, first + MINUTE, first + 2 * MINUTE]
    _, _, rows = await client.get(
        "/fapi/v1/klines", symbol="LTCUSDT", interval="1m", startTime=first - 10 * MINUTE, limit=1
    )
    assert rows[0][0] == first  # nothing before the first stored candle


async def test_ticker_24hr(client: Client) -> None:
    _, _, klines = await client.get("/fapi/v1/klines", symbol="BTCUSDT", interval="1m", limit=1440)
    status, _, t = await client.get("/fapi/v1/ticker/24hr", symbol="BTCUSDT")
    assert status == 200
    assert t["symbol"] == "BTCUSDT"
    assert (t["openTime"], t["closeTime"]) == (NOW - 86_400_000, NOW)
    assert t["openPrice"] == klines[0][1] and t["lastPrice"] == klines[-1][4]
    assert t["highPrice"] == max(klines, key=lambda r: Decimal(r[2]))[2]
    assert t["lowPrice"] == min(klines, key=lambda r: Decimal(r[3]))[3]
    assert Decimal(t["priceChange"]) == Decimal(t["lastPrice"]) - Decimal(t["openPrice"])
    pct = Decimal(t["priceChange"]) / Decimal(t["openPrice"]) * 100
    assert t["priceChangePercent"] == f"{pct.quantize(Decimal('0.001')):f}"
    assert Decimal(t["volume"]) == sum(Decimal(r[5]) for r in klines)
    # one synthetic trade per second of the day's 1440 candles, ids counting those seconds
    # (the forming candle is 30 s in: 30 of its trades so far)
    assert t["count"] == sum(r[8] for r in klines) == 1439 * 60 + 30
    assert t["lastId"] - t["firstId"] + 1 == t["count"]
    assert t["firstId"] == klines[0][0] // 1000 and t["lastId"] == NOW // 1000 - 1
    quote = sum(Decimal(r[7]) for r in klines)
    assert abs(Decimal(t["quoteVolume"]) - quote) <= Decimal("1e-5") * len(klines)
    assert Decimal(t["lowPrice"]) <= Decimal(t["weightedAvgPrice"]) <= Decimal(t["highPrice"])
    assert t["lastQty"] == "0.001"
    status, _, all_ = await client.get("/fapi/v1/ticker/24hr")
    assert [x["symbol"] for x in all_] == ["ADAUSDT", "BTCUSDT", "DOGEUSDT", "LTCUSDT"]
    assert all_[1] == t
    status, _, body = await client.get("/fapi/v1/ticker/24hr", symbol="ETHUSDT")
    assert (status, body) == (400, {"code": -1121, "msg": "Invalid symbol."})
    for version in ("v1", "v2"):
        _, _, price = await client.get(f"/fapi/{version}/ticker/price", symbol="BTCUSDT")
        assert price == {"symbol": "BTCUSDT", "price": t["lastPrice"], "time": NOW}
    _, _, prices = await client.get("/fapi/v1/ticker/price")
    assert [p["symbol"] for p in prices] == ["ADAUSDT", "BTCUSDT", "DOGEUSDT", "LTCUSDT"]


async def test_premium_index_and_funding_time(client: Client) -> None:
    _, _, klines = await client.get("/fapi/v1/klines", symbol="ADAUSDT", interval="1m", limit=1)
    status, _, p = await client.get("/fapi/v1/premiumIndex", symbol="ADAUSDT")
    assert status == 200
    mark = f"{Decimal(klines[-1][4]):.8f}"
    assert p == {
        "symbol": "ADAUSDT",
        "markPrice": mark,
        "indexPrice": mark,
        "estimatedSettlePrice": mark,
        "lastFundingRate": "0.00010000",
        "interestRate": "0.00010000",
        "nextFundingTime": 1749830400000,  # 2025-06-13 16:00 UTC, after 10:55:30
        "time": NOW,
    }
    _, _, all_ = await client.get("/fapi/v1/premiumIndex")
    assert len(all_) == 4 and all_[0] == p
    h8 = 8 * 3_600_000
    assert next_funding_ms(1749830400000) == 1749830400000 + h8
    assert next_funding_ms(1749830400000 - 1) == 1749830400000
    assert next_funding_ms(0) == h8


async def test_leverage_brackets_are_the_shipped_ones(client: Client) -> None:
    status, _, body = await client.signed("GET", "/fapi/v1/leverageBracket", symbol="BTCUSDT")
    assert status == 200 and len(body) == 1 and body[0]["symbol"] == "BTCUSDT"
    assert body[0]["brackets"][:2] == [
        {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0,
         "maintMarginRatio": 0.004, "cum": 0.0},
        {"bracket": 2, "initialLeverage": 100, "notionalCap": 600000, "notionalFloor": 50000,
         "maintMarginRatio": 0.005, "cum": 50.0},
    ]  # fmt: skip
    rules = bundled_rules().get("BTCUSDT")
    assert len(body[0]["brackets"]) == len(rules.brackets)
    for b, r in zip(body[0]["brackets"], rules.brackets, strict=True):
        assert Decimal(repr(b["maintMarginRatio"])) == r.maint_margin_ratio
        assert Decimal(repr(b["cum"])) == r.cum
    _, _, every = await client.signed("GET", "/fapi/v1/leverageBracket")
    assert len(every) == len(bundled_rules()) == 315
    status, _, body = await client.signed("GET", "/fapi/v1/leverageBracket", symbol="NOPEUSDT")
    assert (status, body) == (400, {"code": -1121, "msg": "Invalid symbol."})
    status, _, body = await client.get("/fapi/v1/leverageBracket")
    assert status == 401 and body["code"] == -2015


async def test_commission_rate(client: Client) -> None:
    status, _, body = await client.signed("GET", "/fapi/v1/commissionRate", symbol="ETHUSDT")
    assert (status, body) == (
        200,
        {"symbol": "ETHUSDT", "makerCommissionRate": "0.0002", "takerCommissionRate": "0.0005"},
    )
    status, _, body = await client.signed("GET", "/fapi/v1/commissionRate")
    assert (status, body["code"]) == (400, -1102)


async def test_exchange_info_and_time(client: Client) -> None:
    before = wall_ms()
    _, _, info = await client.get("/fapi/v1/exchangeInfo")
    _, _, t = await client.get("/fapi/v1/time")
    after = wall_ms()
    assert before <= info["serverTime"] <= t["serverTime"] <= after
    assert len(info["symbols"]) == 347 and info["futuresType"] == "U_MARGINED"
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert btc["pricePrecision"] == 2 and btc["filters"][0]["tickSize"] == "0.10"
    assert info["rateLimits"][0] == {
        "rateLimitType": "REQUEST_WEIGHT",
        "interval": "MINUTE",
        "intervalNum": 1,
        "limit": 2400,
    }
    client.ex.faults.clock_skew_ms = 3_600_000
    _, _, t = await client.get("/fapi/v1/time")
    assert t["serverTime"] >= after + 3_600_000
    status, _, body = await client.get("/fapi/v1/ping")
    assert (status, body) == (200, {})
