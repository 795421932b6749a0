"""GET /fapi/v1/userTrades and GET /fapi/v1/allOrders of the local exchange: the rows as Binance
documents them (every key, the numbers the user stream reported for the same fill), the 7-day
window and its defaults, `fromId` / `orderId` paging, `limit`, allOrders' 3-day and 90-day
horizons, and a liquidation read back by `missing_fills` as one."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from slt.domain import Side
from slt.live.backfill import missing_fills
from slt.venues.local.errors import ApiError
from slt.venues.local.routes_history import HISTORY, TRADE_HORIZON_MS, WEEK_MS

from .conftest_trading import MIN, T0, Rig, flat, rig

DAY = 86_400_000
TRADE_KEYS = [
    "buyer",
    "commission",
    "commissionAsset",
    "id",
    "maker",
    "orderId",
    "price",
    "qty",
    "quoteQty",
    "realizedPnl",
    "side",
    "positionSide",
    "symbol",
    "time",
]


async def _get(r: Rig, path: str, **params: object) -> Any:
    handler = {e.path: e.handler for e in HISTORY}[path]
    return await handler(r.ex, {k: str(v) for k, v in params.items()})


async def _code(r: Rig, path: str, **params: object) -> int:
    with pytest.raises(ApiError) as err:
        await _get(r, path, **params)
    return err.value.code


def _round_trip(r: Rig, n: int = 1) -> None:
    """`n` times: buy 0.010 BTC at market, sell it back (two trades, two orders each time)."""
    for k in range(n):
        r.order(side="BUY", type="MARKET", quantity="0.010", newClientOrderId=f"in-{k}")
        r.order(side="SELL", type="MARKET", quantity="0.010", newClientOrderId=f"out-{k}")


def test_history_endpoints_are_signed_with_weight_5() -> None:
    assert {(e.method, e.path): (e.security.value, e.weight({})) for e in HISTORY} == {
        ("GET", "/fapi/v1/userTrades"): ("SIGNED", 5),
        ("GET", "/fapi/v1/allOrders"): ("SIGNED", 5),
    }


async def test_user_trades_rows_are_binances_and_match_the_stream() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 10)})
    r.order(side="BUY", type="MARKET", quantity="0.010", newClientOrderId="in")
    r.at(T0 + 3 * MIN)
    r.order(side="SELL", type="MARKET", quantity="0.010", newClientOrderId="out")
    rows = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT")
    trades = [
        e["o"] for e in r.acct.drain_events() if e["e"] == "ORDER_TRADE_UPDATE" and e["o"]["t"]
    ]
    assert [list(row) for row in rows] == [TRADE_KEYS, TRADE_KEYS]
    for row, o in zip(rows, trades, strict=True):
        assert row["id"] == o["t"] and row["orderId"] == o["i"] and row["time"] == o["T"]
        assert (row["price"], row["qty"], row["side"]) == (o["L"], o["l"], o["S"])
        assert (row["commission"], row["realizedPnl"], row["maker"]) == (o["n"], o["rp"], o["m"])
        assert row["commissionAsset"] == "USDT" and row["positionSide"] == "BOTH"
    buy, sell = rows
    assert buy["buyer"] is True and sell["buyer"] is False
    assert buy["price"] == "100000.00" and buy["qty"] == "0.010"
    assert buy["quoteQty"] == "1000.00000" and buy["commission"] == "0.50000000"  # taker 0.05 %
    assert buy["realizedPnl"] == "0.00000000" and buy["id"] < sell["id"]


async def test_all_orders_rows_are_the_order_object_with_time() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 10)})
    _round_trip(r)
    r.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="90000")
    rows = await _get(r, "/fapi/v1/allOrders", symbol="BTCUSDT")
    assert [o["clientOrderId"] for o in rows][:2] == ["in-0", "out-0"]
    assert [o["status"] for o in rows] == ["FILLED", "FILLED", "NEW"]
    for o in rows:
        for key in ("orderId", "clientOrderId", "status", "type", "side", "origQty", "time"):
            assert key in o
        for key in ("executedQty", "avgPrice", "updateTime", "reduceOnly", "closePosition"):
            assert key in o
        assert "stopPrice" in o and "origType" in o and "positionSide" in o
    assert rows[0]["executedQty"] == "0.010" and rows[2]["executedQty"] == "0.000"


async def test_parameter_refusals_carry_binances_codes() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)})
    for path in ("/fapi/v1/userTrades", "/fapi/v1/allOrders"):
        assert await _code(r, path) == -1102
        assert await _code(r, path, symbol="NOPEUSDT") == -1121
        assert await _code(r, path, symbol="BTCUSDT", limit=0) == -1130
        assert await _code(r, path, symbol="BTCUSDT", limit=1001) == -1130
        assert await _code(r, path, symbol="BTCUSDT", startTime="x") == -1100
        assert await _code(r, path, symbol="BTCUSDT", startTime=T0, endTime=T0 - 1) == -1023
        too_long = {"startTime": T0, "endTime": T0 + WEEK_MS + 1}
        assert await _code(r, path, symbol="BTCUSDT", **too_long) == -1127
    trades = "/fapi/v1/userTrades"
    assert await _code(r, trades, symbol="BTCUSDT", fromId=1, startTime=T0) == -1128
    assert await _code(r, trades, symbol="BTCUSDT", fromId=1, endTime=T0) == -1128
    week = {"symbol": "BTCUSDT", "startTime": T0, "endTime": T0 + WEEK_MS}
    assert await _get(r, trades, **week) == []  # userTrades: at most 7 days
    assert await _code(r, "/fapi/v1/allOrders", **week) == -1127  # allOrders: less than 7 days


async def test_windows_default_to_the_last_7_days_of_market_time() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)})
    _round_trip(r)  # at T0 + 30 s
    r.at(T0 + 8 * DAY)  # past the data: the price stays at the last close
    _round_trip(r)
    trades = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT")
    assert [t["time"] for t in trades] == [T0 + 8 * DAY] * 2
    early = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", startTime=T0)
    assert [t["time"] for t in early] == [T0 + 30_000] * 2  # startTime alone: 7 days after it
    late = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", endTime=T0 + 8 * DAY)
    assert len(late) == 2  # endTime alone: the 7 days before it
    orders = await _get(r, "/fapi/v1/allOrders", symbol="BTCUSDT")
    assert [o["clientOrderId"] for o in orders] == ["in-0", "out-0"]  # the latest ids repeat
    assert all(o["time"] == T0 + 8 * DAY for o in orders)
    first = await _get(r, "/fapi/v1/allOrders", symbol="BTCUSDT", orderId=1)
    assert [o["orderId"] for o in first] == [1, 2, 3, 4]  # orderId: from that id on


async def test_from_id_order_id_and_limit_page_through_trades() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)})
    _round_trip(r, 3)
    every = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT")
    ids = [t["id"] for t in every]
    assert len(ids) == 6 and ids == sorted(ids)
    newest = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", limit=2)
    assert [t["id"] for t in newest] == ids[-2:]  # no window given: the most recent
    oldest = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", startTime=T0, limit=2)
    assert [t["id"] for t in oldest] == ids[:2]  # a window: from its start
    page = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", fromId=ids[2], limit=3)
    assert [t["id"] for t in page] == ids[2:5]
    one = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", orderId=every[3]["orderId"])
    assert [t["id"] for t in one] == [ids[3]]
    orders = await _get(r, "/fapi/v1/allOrders", symbol="BTCUSDT", startTime=T0, limit=4)
    assert [o["orderId"] for o in orders] == [1, 2, 3, 4]
    rest = await _get(r, "/fapi/v1/allOrders", symbol="BTCUSDT", startTime=T0, orderId=5)
    assert [o["orderId"] for o in rest] == [5, 6]


async def test_all_orders_forgets_unfilled_cancels_after_3_days_and_all_after_90() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)})
    _round_trip(r)
    resting = r.order(side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="90000")
    r.acct.cancel_order(resting)
    ids = {"orderId": 1}
    r.at(T0 + 3 * DAY)
    shown = await _get(r, "/fapi/v1/allOrders", symbol="BTCUSDT", **ids)
    assert [o["status"] for o in shown] == ["FILLED", "FILLED", "CANCELED"]
    r.at(T0 + 3 * DAY + MIN)
    shown = await _get(r, "/fapi/v1/allOrders", symbol="BTCUSDT", **ids)
    assert [o["status"] for o in shown] == ["FILLED", "FILLED"]
    r.at(T0 + 91 * DAY)
    assert await _get(r, "/fapi/v1/allOrders", symbol="BTCUSDT", **ids) == []
    trades = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", fromId=1)
    assert len(trades) == 2 and Decimal(trades[1]["realizedPnl"]) == 0


class _History:
    """`missing_fills`' view of the venue, answered by this exchange's handlers directly."""

    def __init__(self, r: Rig) -> None:
        self.r = r

    async def user_trades(
        self, symbol: str, start_ms: int, end_ms: int | None = None
    ) -> list[dict[str, Any]]:
        end = {} if end_ms is None else {"endTime": end_ms}
        rows = await _get(self.r, "/fapi/v1/userTrades", symbol=symbol, startTime=start_ms, **end)
        return list(rows)

    async def all_orders(
        self, symbol: str, start_ms: int, end_ms: int | None = None
    ) -> list[dict[str, Any]]:
        end = {} if end_ms is None else {"endTime": end_ms}
        rows = await _get(self.r, "/fapi/v1/allOrders", symbol=symbol, startTime=start_ms, **end)
        return list(rows)

    async def order_by_id(self, symbol: str, order_id: int) -> dict[str, Any] | None:
        return dict(await self.r.call("GET", "/fapi/v1/order", symbol=symbol, orderId=order_id))


async def test_a_liquidation_is_recorded_and_backfilled_as_one() -> None:
    fall = [*flat(100_000.0, 2), (100_000.0, 100_000.0, 90_000.0, 90_000.0), *flat(90_000.0, 2)]
    r = rig({"BTCUSDT": fall})
    r.acct.set_margin_type("BTCUSDT", "ISOLATED")
    r.acct.set_leverage("BTCUSDT", 100)
    r.order(side="BUY", type="MARKET", quantity="0.010", newClientOrderId="slt-1-entry")
    r.at(T0 + 4 * MIN)
    assert not r.acct.held()
    entry, liquidation = await missing_fills(_History(r), ["BTCUSDT"], T0, T0 + 4 * MIN)
    assert entry.client_id == "slt-1-entry" and not entry.liquidation
    assert liquidation.client_id.startswith("autoclose-") and liquidation.liquidation
    assert liquidation.side is Side.SHORT and liquidation.quantity == Decimal("0.010")
    assert liquidation.trade_id == r.acct.trades["BTCUSDT"][-1].trade_id
    assert liquidation.fee == r.acct.trades["BTCUSDT"][-1].fee


async def test_an_oversized_window_is_refused_not_truncated() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)})
    _round_trip(r)
    with pytest.raises(ApiError) as err:
        await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", startTime=T0, endTime=T0 + 8 * DAY)
    assert (err.value.code, err.value.http_status) == (-1127, 400)
    assert err.value.msg == "More than 168 hours between startTime and endTime."


async def test_limit_defaults_to_500_and_reaches_1000() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)})
    _round_trip(r, 251)  # 502 trades
    every = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", limit=1000)
    ids = [t["id"] for t in every]
    assert len(ids) == 502 and ids == sorted(ids)
    default = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT")
    assert [t["id"] for t in default] == ids[-500:]  # no window: the most recent 500
    windowed = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", startTime=T0)
    assert [t["id"] for t in windowed] == ids[:500]  # a window: its oldest 500
    paged = await _get(r, "/fapi/v1/userTrades", symbol="BTCUSDT", fromId=ids[500])
    assert [t["id"] for t in paged] == ids[500:]


async def test_trades_older_than_6_months_are_never_returned() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)})
    _round_trip(r)  # at T0 + 30 s
    r.at(T0 + 3 * DAY)
    _round_trip(r)
    old_ids = [t.trade_id for t in r.acct.trades["BTCUSDT"][:2]]
    trades = "/fapi/v1/userTrades"
    r.at(T0 + 30_000 + TRADE_HORIZON_MS)  # the first trades exactly 180 days old: still there
    assert len(await _get(r, trades, symbol="BTCUSDT", fromId=1)) == 4
    r.at(T0 + 30_001 + TRADE_HORIZON_MS)
    week = {"symbol": "BTCUSDT", "startTime": T0, "endTime": T0 + WEEK_MS}
    straddling = await _get(r, trades, **week)  # accepted, not refused: only the newer two
    assert [t["time"] for t in straddling] == [T0 + 3 * DAY] * 2
    assert [t["id"] for t in await _get(r, trades, symbol="BTCUSDT", fromId=1)] == [
        t.trade_id for t in r.acct.trades["BTCUSDT"][2:]
    ]
    first_order = r.acct.trades["BTCUSDT"][0].order_id
    assert await _get(r, trades, symbol="BTCUSDT", orderId=first_order) == []
    r.at(T0 + 3 * DAY + 30_001 + TRADE_HORIZON_MS)
    assert await _get(r, trades, **week) == []  # wholly before the horizon: empty, no error
    assert await _get(r, trades, symbol="BTCUSDT", fromId=old_ids[0]) == []
    _round_trip(r)
    recent = await _get(r, trades, symbol="BTCUSDT")  # defaults: the last 7 days of market time
    assert [t["time"] for t in recent] == [r.acct.now] * 2
