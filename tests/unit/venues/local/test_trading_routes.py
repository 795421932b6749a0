"""The trading endpoints: a full cycle on the bundled BTCUSDT sample (leverage, market buy,
algo stop and take-profit with closePosition, the take-profit triggering as the replay runs,
the event sequence), every answer's keys as Binance sends them, and the declared weights."""

from __future__ import annotations

from decimal import Decimal

import pytest

from slt.data.csv_import import parse_file
from slt.data.sample import sample_files
from slt.rules import bundled_rules
from slt.venues.local.clock import ReplayClock
from slt.venues.local.errors import ApiError
from slt.venues.local.exchange import LocalExchange
from slt.venues.local.market import MarketReplay
from slt.venues.local.routes_trading import TRADING, build_account

from .conftest_trading import MIN, Rig, flat, rig

ORDER_KEYS = [
    "orderId",
    "symbol",
    "status",
    "clientOrderId",
    "price",
    "avgPrice",
    "origQty",
    "executedQty",
    "cumQty",
    "cumQuote",
    "timeInForce",
    "type",
    "reduceOnly",
    "closePosition",
    "side",
    "positionSide",
    "stopPrice",
    "workingType",
    "priceProtect",
    "origType",
    "priceMatch",
    "selfTradePreventionMode",
    "goodTillDate",
    "updateTime",
]
ALGO_KEYS = [
    "algoId",
    "clientAlgoId",
    "algoType",
    "orderType",
    "symbol",
    "side",
    "positionSide",
    "timeInForce",
    "quantity",
    "algoStatus",
    "triggerPrice",
    "price",
    "icebergQuantity",
    "selfTradePreventionMode",
    "workingType",
    "priceMatch",
    "closePosition",
    "priceProtect",
    "reduceOnly",
    "activatePrice",
    "callbackRate",
    "createTime",
    "updateTime",
    "triggerTime",
    "goodTillDate",
]
RISK_V2 = [
    "symbol",
    "positionAmt",
    "entryPrice",
    "breakEvenPrice",
    "markPrice",
    "unRealizedProfit",
    "liquidationPrice",
    "leverage",
    "maxNotionalValue",
    "marginType",
    "isolatedMargin",
    "isAutoAddMargin",
    "positionSide",
    "notional",
    "isolatedWallet",
    "updateTime",
]
RISK_V3 = [
    "symbol",
    "positionSide",
    "positionAmt",
    "entryPrice",
    "breakEvenPrice",
    "markPrice",
    "unRealizedProfit",
    "liquidationPrice",
    "isolatedMargin",
    "notional",
    "marginAsset",
    "isolatedWallet",
    "initialMargin",
    "maintMargin",
    "positionInitialMargin",
    "openOrderInitialMargin",
    "adl",
    "bidNotional",
    "askNotional",
    "updateTime",
]
ACCOUNT_TOP = [
    "totalInitialMargin",
    "totalMaintMargin",
    "totalWalletBalance",
    "totalUnrealizedProfit",
    "totalMarginBalance",
    "totalPositionInitialMargin",
    "totalOpenOrderInitialMargin",
    "totalCrossWalletBalance",
    "totalCrossUnPnl",
    "availableBalance",
    "maxWithdrawAmount",
    "assets",
    "positions",
]


@pytest.fixture(scope="module")
def btc_sample() -> dict:
    path = next(p for p in sample_files() if p.name.startswith("BTCUSDT"))
    return {"BTCUSDT": parse_file(path).series}


async def test_full_cycle_on_the_sample_ends_flat_with_binances_event_sequence(
    btc_sample: dict,
) -> None:
    series = btc_sample["BTCUSDT"]
    t0 = int(series.open_time[0]) + 30_000
    clock = ReplayClock(t0, speed=0)
    market = MarketReplay(btc_sample, clock)
    ex = LocalExchange(market, bundled_rules(), clock)
    ex.account = build_account(market, bundled_rules())
    r = Rig(ex, clock, ex.account)

    assert await r.call("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=10) == {
        "leverage": 10,
        "maxNotionalValue": "230000000",
        "symbol": "BTCUSDT",
    }
    ack = await r.call(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010"
    )
    assert list(ack) == ORDER_KEYS
    assert (ack["status"], ack["executedQty"], ack["cumQuote"]) == ("NEW", "0.000", "0.00000")
    got = await r.call("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=ack["orderId"])
    assert got["status"] == "FILLED" and got["executedQty"] == "0.010" and "time" in got
    entry = Decimal(got["avgPrice"])
    stop = await r.call(
        "POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL",
        type="STOP_MARKET", triggerPrice=entry - 500, closePosition="true",
    )  # fmt: skip
    take = await r.call(
        "POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL",
        type="TAKE_PROFIT_MARKET", triggerPrice=entry + 300, closePosition="true",
    )  # fmt: skip
    assert list(stop) == ALGO_KEYS and stop["algoStatus"] == "NEW"
    assert len(await r.call("GET", "/fapi/v1/openAlgoOrders", symbol="BTCUSDT")) == 2

    for k in range(1, 600):
        clock.advance_to(t0 + k * MIN)
        if not await r.call("GET", "/fapi/v3/positionRisk"):
            break
    else:
        pytest.fail("the take-profit never triggered")
    assert await r.call("GET", "/fapi/v1/openAlgoOrders") == []
    done = await r.call("GET", "/fapi/v1/algoOrder", algoId=take["algoId"])
    assert done["algoStatus"] == "FINISHED" and done["actualPrice"] == f"{entry + 300:.2f}"

    events = r.acct.drain_events()
    seq = [(e["e"], (e.get("o") or {}).get("X") or (e.get("a") or {}).get("m")) for e in events]
    assert seq == [
        ("ACCOUNT_CONFIG_UPDATE", None),
        ("ORDER_TRADE_UPDATE", "NEW"),
        ("ORDER_TRADE_UPDATE", "FILLED"),
        ("ACCOUNT_UPDATE", "ORDER"),
        ("ALGO_UPDATE", "NEW"),
        ("ALGO_UPDATE", "NEW"),
        ("ALGO_UPDATE", "TRIGGERED"),
        ("ORDER_TRADE_UPDATE", "NEW"),
        ("ORDER_TRADE_UPDATE", "FILLED"),
        ("ACCOUNT_UPDATE", "ORDER"),
        ("ALGO_UPDATE", "EXPIRED"),  # the stop: its position is gone
        ("ALGO_UPDATE", "FINISHED"),
    ]
    close = events[8]["o"]
    assert (close["S"], close["ot"], close["cp"], close["L"], close["rp"]) == (
        "SELL", "TAKE_PROFIT_MARKET", True, f"{entry + 300:.2f}", "3.00000000",
    )  # fmt: skip
    fees = sum(Decimal(e["o"]["n"]) for e in events if e["e"] == "ORDER_TRADE_UPDATE")
    funding = sum(Decimal(e["a"]["B"][0]["bc"]) for e in events if e["e"] == "ACCOUNT_UPDATE")
    bal = await r.call("GET", "/fapi/v2/balance")
    assert Decimal(bal[0]["balance"]) == Decimal(10_000) + 3 - fees + funding
    assert events[-1]["E"] >= events[0]["E"]


@pytest.fixture
def r() -> Rig:
    return rig({"BTCUSDT": flat(100_000.0, 600), "ETHUSDT": flat(2_500.0, 600)})


async def test_result_responses_open_orders_and_cancels(r: Rig) -> None:
    res = await r.call(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002",
        newOrderRespType="RESULT",
    )  # fmt: skip
    assert (res["status"], res["avgPrice"], res["cumQuote"]) == ("FILLED", "100000.00", "200.00000")
    o = await r.call(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.002",
        price="99000", timeInForce="GTC", newClientOrderId="mine",
    )  # fmt: skip
    (listed,) = await r.call("GET", "/fapi/v1/openOrders", symbol="BTCUSDT")
    assert list(listed) == [*ORDER_KEYS[:-1], "time", "updateTime"]
    assert listed["price"] == "99000.00" and listed["origQty"] == "0.002"
    one = await r.call("GET", "/fapi/v1/openOrder", symbol="BTCUSDT", origClientOrderId="mine")
    assert one["orderId"] == o["orderId"]
    gone = await r.call("DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=o["orderId"])
    assert gone["status"] == "CANCELED"
    with pytest.raises(ApiError) as err:
        await r.call("DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=o["orderId"])
    assert err.value.code == -2011
    with pytest.raises(ApiError) as err:
        await r.call("GET", "/fapi/v1/openOrder", symbol="BTCUSDT", orderId=o["orderId"])
    assert err.value.code == -2013
    await r.call(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.002",
        price="98000", timeInForce="GTC",
    )  # fmt: skip
    done = await r.call("DELETE", "/fapi/v1/allOpenOrders", symbol="BTCUSDT")
    assert done == {"code": 200, "msg": "The operation of cancel all open order is done."}
    assert await r.call("GET", "/fapi/v1/openOrders") == []


async def test_algo_cancel_answers(r: Rig) -> None:
    a = await r.call(
        "POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="BUY",
        type="STOP_MARKET", triggerPrice="101000", quantity="0.002", clientAlgoId="sl-1",
    )  # fmt: skip
    (listed,) = await r.call("GET", "/fapi/v1/openAlgoOrders")
    assert {"actualOrderId", "actualPrice", "tpTriggerPrice", "tpOrderType"} <= set(listed)
    gone = await r.call("DELETE", "/fapi/v1/algoOrder", clientAlgoId="sl-1")
    assert gone == {"algoId": a["algoId"], "clientAlgoId": "sl-1", "code": "200", "msg": "success"}
    with pytest.raises(ApiError) as err:
        await r.call("DELETE", "/fapi/v1/algoOrder", algoId=a["algoId"])
    assert err.value.code == -2011
    await r.call(
        "POST", "/fapi/v1/algoOrder", algoType="CONDITIONAL", symbol="BTCUSDT", side="BUY",
        type="STOP_MARKET", triggerPrice="101000", quantity="0.002",
    )  # fmt: skip
    assert (await r.call("DELETE", "/fapi/v1/algoOpenOrders", symbol="BTCUSDT"))["code"] == 200
    assert await r.call("GET", "/fapi/v1/openAlgoOrders", symbol="BTCUSDT") == []


async def test_account_position_and_balance_shapes(r: Rig) -> None:
    await r.call("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="ISOLATED")
    await r.call(
        "POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.002"
    )
    v2 = await r.call("GET", "/fapi/v2/positionRisk")
    assert [row["symbol"] for row in v2] == ["BTCUSDT", "ETHUSDT"]
    assert list(v2[0]) == RISK_V2
    assert (v2[0]["positionAmt"], v2[0]["marginType"], v2[0]["leverage"]) == (
        "-0.002",
        "isolated",
        "20",
    )
    assert v2[0]["isolatedWallet"] == "10.00000000" and v2[1]["marginType"] == "cross"
    (v3,) = await r.call("GET", "/fapi/v3/positionRisk")
    assert list(v3) == RISK_V3
    assert (v3["notional"], v3["positionInitialMargin"]) == ("-200.00000000", "10.00000000")
    assert Decimal(v3["liquidationPrice"]) > 100_000
    acc2 = await r.call("GET", "/fapi/v2/account")
    acc3 = await r.call("GET", "/fapi/v3/account")
    assert set(ACCOUNT_TOP) <= set(acc2) and set(ACCOUNT_TOP) <= set(acc3)
    assert {"feeTier", "canTrade", "multiAssetsMargin"} <= set(acc2) - set(acc3)
    assert len(acc2["positions"]) == 2 and [p["symbol"] for p in acc3["positions"]] == ["BTCUSDT"]
    assert acc3["totalWalletBalance"] == "9999.90000000"
    assert (
        acc3["totalCrossWalletBalance"] == "9989.90000000"
    )  # 10 USDT held by the isolated position
    (bal,) = await r.call("GET", "/fapi/v3/balance")
    assert bal["balance"] == "9999.90000000" and bal["asset"] == "USDT"
    cfg = await r.call("GET", "/fapi/v1/symbolConfig", symbol="BTCUSDT")
    assert cfg == [
        {"symbol": "BTCUSDT", "marginType": "ISOLATED", "isAutoAddMargin": False, "leverage": 20,
         "maxNotionalValue": "100000000"}
    ]  # fmt: skip


async def test_position_mode_is_one_way_only(r: Rig) -> None:
    assert await r.call("GET", "/fapi/v1/positionSide/dual") == {"dualSidePosition": False}
    for value, code in (("false", -4059), ("true", -1130), ("maybe", -1102)):
        with pytest.raises(ApiError) as err:
            await r.call("POST", "/fapi/v1/positionSide/dual", dualSidePosition=value)
        assert err.value.code == code


async def test_leverage_and_margin_type_parameters(r: Rig) -> None:
    for params, code in (
        ({"symbol": "BTCUSDT"}, -1102),
        ({"symbol": "BTCUSDT", "leverage": "x"}, -1102),
        ({"symbol": "BTCUSDT", "leverage": "200"}, -4028),
        ({"leverage": "5"}, -1102),
        ({"symbol": "NOPE", "leverage": "5"}, -1121),
    ):
        with pytest.raises(ApiError) as err:
            await r.call("POST", "/fapi/v1/leverage", **params)
        assert err.value.code == code
    assert await r.call("POST", "/fapi/v1/marginType", symbol="BTCUSDT", marginType="isolated") == {
        "code": 200,
        "msg": "success",
    }


def test_endpoints_carry_binances_weights_and_order_counting() -> None:
    by = {(e.method, e.path): e for e in TRADING}
    assert len(by) == len(TRADING) == 22
    assert by[("POST", "/fapi/v1/order")].weight({}) == 0 and by[("POST", "/fapi/v1/order")].orders
    assert by[("POST", "/fapi/v1/algoOrder")].orders
    assert [e.path for e in TRADING if e.orders] == ["/fapi/v1/order", "/fapi/v1/algoOrder"]
    open_orders = by[("GET", "/fapi/v1/openOrders")].weight
    assert (open_orders({"symbol": "BTCUSDT"}), open_orders({})) == (1, 40)
    assert by[("GET", "/fapi/v2/account")].weight({}) == 5
    assert by[("GET", "/fapi/v1/positionSide/dual")].weight({}) == 30
    assert by[("GET", "/fapi/v1/symbolConfig")].weight({}) == 5
    assert all(e.security.needs_signature for e in TRADING)


def test_draining_events_replays_the_account_up_to_the_clock() -> None:
    """The stream pump only drains; triggers the clock has reached must still come out."""
    r = rig({"BTCUSDT": [*flat(100_000.0, 1), (100_000.0, 100_200.0, 98_000.0, 98_500.0)]})
    r.order(side="BUY", type="MARKET", quantity="0.002")
    r.algo(side="SELL", type="STOP_MARKET", triggerPrice="99000", closePosition="true")
    r.acct.drain_events()
    r.clock.advance_to(r.clock.now_ms() + 2 * MIN)  # no request, no explicit advance
    kinds = [e["e"] for e in r.acct.drain_events()]
    assert kinds.count("ALGO_UPDATE") == 2 and "ACCOUNT_UPDATE" in kinds
    assert not r.acct.held()


def test_build_account_takes_strings_and_refuses_an_unknown_margin_type() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 2)})
    acct = build_account(r.ex.market, r.ex.rules, balance="123.45", funding_rate="-0.0002")
    assert (acct.wallet, acct.funding_rate) == (Decimal("123.45"), Decimal("-0.0002"))
    with pytest.raises(ValueError, match="margin_type"):
        build_account(r.ex.market, r.ex.rules, margin_type="PORTFOLIO")
