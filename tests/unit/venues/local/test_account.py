"""The trading account's order entry and settings answer with Binance's codes, checked against
the real bundled BTCUSDT rules (tick 0.10, step 0.001, min notional 100, percent price 5 %)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from slt.rules import ExchangeRules, bundled_rules
from slt.venues.local.errors import ApiError
from slt.venues.local.routes_trading import find_order

from .conftest_trading import MIN, T0, Rig, flat, rig

D = Decimal


@pytest.fixture
def r() -> Rig:
    return rig({"BTCUSDT": flat(100_000.0, 600), "ETHUSDT": flat(2_500.0, 600)})


def test_the_bundled_btcusdt_rules_are_the_ones_these_tests_assume() -> None:
    btc = bundled_rules().get("BTCUSDT")
    assert (btc.tick_size, btc.step_size, btc.min_notional) == (
        Decimal("0.10"),
        Decimal("0.001"),
        Decimal("100"),
    )
    assert (btc.price_precision, btc.quantity_precision) == (2, 3)


def test_defaults_leverage_20_capped_by_the_bracket_cross_margin_and_10000_usdt() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5), "FTTUSDT": flat(2.0, 5)})
    assert r.acct.config("BTCUSDT").leverage == 20
    assert r.acct.config("FTTUSDT").leverage == 8  # its highest bracket allows 8x
    assert r.acct.config("BTCUSDT").margin_type == "CROSSED"
    assert r.acct.wallet == Decimal(10_000)
    assert rig({"BTCUSDT": flat(1.0, 1)}, balance="250.5").acct.wallet == Decimal("250.5")


MISSING = [
    ({"side": "BUY", "type": "MARKET"}, "quantity"),
    ({"type": "MARKET", "quantity": "0.002"}, "side"),
    ({"side": "BUY", "quantity": "0.002"}, "type"),
    ({"side": "BUY", "type": "LIMIT", "quantity": "0.002", "price": "99000"}, "timeInForce"),
    ({"side": "BUY", "type": "LIMIT", "quantity": "0.002", "timeInForce": "GTC"}, "price"),
    ({"side": "BUY", "type": "MARKET", "quantity": "abc"}, "quantity"),
]


@pytest.mark.parametrize(("params", "name"), MISSING)
def test_missing_or_malformed_mandatory_parameters_are_1102_naming_them(
    r: Rig, params: dict[str, str], name: str
) -> None:
    with pytest.raises(ApiError) as err:
        r.order(**params)
    assert err.value.code == -1102 and f"'{name}'" in err.value.msg


def test_missing_and_unknown_symbol(r: Rig) -> None:
    with pytest.raises(ApiError) as err:
        r.acct.place_order({"side": "BUY", "type": "MARKET", "quantity": "1"})
    assert err.value.code == -1102
    assert r.code(symbol="XRPUSDT", side="BUY", type="MARKET", quantity="1") == -1121


CODES = [
    ({"side": "HOLD", "type": "MARKET", "quantity": "0.002"}, -1117),
    ({"side": "BUY", "type": "ICEBERG", "quantity": "0.002"}, -1116),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.002",
            "price": "99000",
            "timeInForce": "DAY",
        },
        -1115,
    ),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.002",
            "price": "99000",
            "timeInForce": "RPI",
        },
        -1115,
    ),
    ({"side": "BUY", "type": "MARKET", "quantity": "0.002", "price": "99000"}, -1106),
    ({"side": "BUY", "type": "MARKET", "quantity": "0.002", "positionSide": "LONG"}, -4061),
    ({"side": "BUY", "type": "MARKET", "quantity": "0.0021"}, -1111),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.002",
            "price": "99000.123",
            "timeInForce": "GTC",
        },
        -1111,
    ),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.002",
            "price": "99000.15",
            "timeInForce": "GTC",
        },
        -4014,
    ),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.0025",
            "price": "99000",
            "timeInForce": "GTC",
        },
        -1111,
    ),
    ({"side": "BUY", "type": "MARKET", "quantity": "0"}, -4003),
    ({"side": "BUY", "type": "MARKET", "quantity": "121"}, -4005),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.002",
            "price": "105000.1",
            "timeInForce": "GTC",
        },
        -4016,
    ),
    (
        {
            "side": "SELL",
            "type": "LIMIT",
            "quantity": "0.002",
            "price": "94999.9",
            "timeInForce": "GTC",
        },
        -4024,
    ),
    ({"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.007"}, -4164),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.001",
            "price": "99000",
            "timeInForce": "GTC",
        },
        -4164,
    ),
    ({"side": "BUY", "type": "STOP_MARKET", "quantity": "0.002", "stopPrice": "101000"}, -4120),
    ({"side": "BUY", "type": "MARKET", "quantity": "0.002", "newClientOrderId": "bad id!"}, -4015),
    ({"side": "BUY", "type": "MARKET", "quantity": "0.002", "newClientOrderId": "x" * 37}, -4015),
    ({"side": "SELL", "type": "MARKET", "quantity": "0.002", "reduceOnly": "true"}, -2022),
    ({"side": "BUY", "type": "MARKET", "quantity": "2.000"}, -2019),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.002",
            "price": "100000",
            "timeInForce": "GTX",
        },
        -5022,
    ),
    (
        {
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.002",
            "price": "99999.9",
            "timeInForce": "FOK",
        },
        -5021,
    ),
]


@pytest.mark.parametrize(("params", "code"), CODES)
def test_order_entry_refusals_carry_binances_code(
    r: Rig, params: dict[str, str], code: int
) -> None:
    assert r.code(**params) == code
    assert not r.acct.open_orders() and not r.acct.held()


def test_step_and_min_qty_filters_of_a_coarser_lot() -> None:
    """No bundled symbol has a step coarser than its precision or a minQty above its step,
    so LOT_SIZE's own codes are checked on BTCUSDT with step 0.005 and minQty 0.010."""
    btc = bundled_rules().get("BTCUSDT")
    coarse = replace(btc, step_size=D("0.005"), min_qty=D("0.010"), market_step_size=D("0.005"))
    r = rig({"BTCUSDT": flat(100_000.0, 5)}, rules=ExchangeRules({"BTCUSDT": coarse}))
    assert (
        r.code(side="BUY", type="LIMIT", quantity="0.012", price="99000", timeInForce="GTC")
        == -4023
    )
    assert (
        r.code(side="BUY", type="LIMIT", quantity="0.005", price="99000", timeInForce="GTC")
        == -4004
    )
    r.order(side="BUY", type="LIMIT", quantity="0.010", price="99000", timeInForce="GTC")


def test_reduce_only_orders_are_exempt_from_min_notional() -> None:
    r = rig({"ETHUSDT": flat(2_500.0, 5)})  # MIN_NOTIONAL 20
    r.order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.010")
    small = {"symbol": "ETHUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.005"}
    assert r.code(**small, price="2600", timeInForce="GTC") == -4164  # 13 USDT
    o = r.order(**small, price="2600", timeInForce="GTC", reduceOnly="true")
    assert o.status == "NEW" and o.reduce_only


def test_min_qty_below_the_step_grid_and_min_notional_exemption_for_reduce_only(r: Rig) -> None:
    assert (
        r.code(side="BUY", type="LIMIT", quantity="0.000", price="99000", timeInForce="GTC")
        == -4003
    )
    r.order(side="BUY", type="MARKET", quantity="0.002")
    # 0.001 × 100 000 = 100 passes; a reduce-only 0.001 at a lower price is exempt anyway
    o = r.order(
        side="SELL",
        type="LIMIT",
        quantity="0.001",
        price="100100",
        timeInForce="GTC",
        reduceOnly="true",
    )
    assert o.status == "NEW"


ALGO_CODES = [
    ({"side": "SELL", "type": "STOP_MARKET", "closePosition": "true"}, -1102),
    (
        {
            "side": "SELL",
            "type": "STOP_MARKET",
            "triggerPrice": "99000",
            "closePosition": "true",
            "quantity": "0.002",
        },
        -4137,
    ),
    (
        {
            "side": "SELL",
            "type": "STOP_MARKET",
            "triggerPrice": "99000",
            "closePosition": "true",
            "reduceOnly": "true",
        },
        -4138,
    ),
    (
        {"side": "SELL", "type": "STOP_MARKET", "triggerPrice": "100000", "closePosition": "true"},
        -2021,
    ),
    (
        {
            "side": "SELL",
            "type": "TAKE_PROFIT_MARKET",
            "triggerPrice": "99999.9",
            "closePosition": "true",
        },
        -2021,
    ),
    ({"side": "BUY", "type": "STOP_MARKET", "triggerPrice": "99000", "quantity": "0.002"}, -2021),
    (
        {
            "side": "SELL",
            "type": "STOP_MARKET",
            "triggerPrice": "99000.055",
            "closePosition": "true",
        },
        -1111,
    ),
    ({"side": "SELL", "type": "LIMIT", "triggerPrice": "99000", "quantity": "0.002"}, -1116),
    (
        {
            "side": "SELL",
            "type": "TRAILING_STOP_MARKET",
            "triggerPrice": "99000",
            "quantity": "0.002",
        },
        -1116,
    ),
    ({"side": "SELL", "type": "STOP_MARKET", "triggerPrice": "99000", "quantity": "0.001"}, -4164),
    ({"side": "SELL", "type": "STOP", "triggerPrice": "99000", "quantity": "0.002"}, -1102),
    (
        {
            "side": "SELL",
            "type": "LIMIT",
            "closePosition": "true",
            "price": "1",
            "triggerPrice": "1",
        },
        -1116,
    ),
    (
        {
            "side": "SELL",
            "type": "STOP_MARKET",
            "triggerPrice": "99000",
            "quantity": "0.002",
            "clientAlgoId": "no spaces",
        },
        -4015,
    ),
]


@pytest.mark.parametrize(("params", "code"), ALGO_CODES)
def test_algo_order_refusals_carry_binances_code(r: Rig, params: dict[str, str], code: int) -> None:
    assert r.code("algo", **params) == code
    assert not r.acct.open_algos()


def test_algo_type_is_mandatory_and_conditional(r: Rig) -> None:
    with pytest.raises(ApiError) as err:
        r.acct.place_algo({"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET"})
    assert err.value.code == -1102 and "algoType" in err.value.msg
    assert r.code("algo", algoType="VP", side="SELL", type="STOP_MARKET", triggerPrice="9") == -1130


def test_close_position_on_a_plain_order_is_not_required(r: Rig) -> None:
    assert r.code(side="SELL", type="MARKET", quantity="0.002", closePosition="true") == -1106
    assert r.code(side="SELL", type="MARKET", closePosition="true") == -1106


def test_legacy_conditional_orders_are_accepted_on_the_order_endpoint_when_switched_on() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)}, legacy_conditional=True)
    o = r.order(side="BUY", type="STOP_MARKET", quantity="0.002", stopPrice="101000")
    assert (o.type, o.status, o.stop_price) == ("STOP_MARKET", "NEW", Decimal("101000"))
    assert r.code(side="BUY", type="STOP_MARKET", quantity="0.002", stopPrice="99000") == -2021


def test_client_order_ids_unique_among_open_orders_and_generated_when_absent(r: Rig) -> None:
    a = r.order(
        side="BUY",
        type="LIMIT",
        quantity="0.002",
        price="99000",
        timeInForce="GTC",
        newClientOrderId="my-1",
    )
    assert (
        r.code(
            side="BUY",
            type="LIMIT",
            quantity="0.002",
            price="98000",
            timeInForce="GTC",
            newClientOrderId="my-1",
        )
        == -4116
    )
    r.acct.cancel_order(a)
    again = r.order(
        side="BUY",
        type="LIMIT",
        quantity="0.002",
        price="98000",
        timeInForce="GTC",
        newClientOrderId="my-1",
    )
    assert again.order_id == a.order_id + 1
    auto = r.order(side="BUY", type="LIMIT", quantity="0.002", price="97000", timeInForce="GTC")
    assert auto.client_id and auto.client_id != again.client_id
    assert find_order(r.acct, "BTCUSDT", {"origClientOrderId": "my-1"}) is again


def test_order_ids_increment_per_symbol(r: Rig) -> None:
    b1 = r.order(side="BUY", type="LIMIT", quantity="0.002", price="99000", timeInForce="GTC")
    e1 = r.order(
        symbol="ETHUSDT",
        side="BUY",
        type="LIMIT",
        quantity="0.010",
        price="2400",
        timeInForce="GTC",
    )
    b2 = r.order(side="BUY", type="LIMIT", quantity="0.002", price="99000", timeInForce="GTC")
    assert (b1.order_id, e1.order_id, b2.order_id) == (1, 1, 2)


def test_cancel_and_query_unknown_orders(r: Rig) -> None:
    o = r.order(side="BUY", type="LIMIT", quantity="0.002", price="99000", timeInForce="GTC")
    assert r.acct.cancel_order(o).status == "CANCELED"
    with pytest.raises(ApiError) as err:
        r.acct.cancel_order(o)
    assert err.value.code == -2011
    with pytest.raises(ApiError) as err:
        find_order(r.acct, "BTCUSDT", {"orderId": "999"})
    assert err.value.code == -2013


def test_leverage_changes_are_checked_and_announced(r: Rig) -> None:
    with pytest.raises(ApiError) as err:
        r.acct.set_leverage("BTCUSDT", 126)
    assert err.value.code == -4028 and "126" in err.value.msg
    with pytest.raises(ApiError):
        r.acct.set_leverage("BTCUSDT", 0)
    r.acct.drain_events()
    r.acct.set_leverage("BTCUSDT", 50)
    (event,) = r.acct.drain_events()
    assert event["e"] == "ACCOUNT_CONFIG_UPDATE" and event["ac"] == {"s": "BTCUSDT", "l": 50}
    assert r.acct.max_notional("BTCUSDT") == Decimal("12000000")  # brackets allowing ≥ 50x


def test_margin_type_changes_and_their_refusals(r: Rig) -> None:
    def code(mt: str) -> int:
        try:
            r.acct.set_margin_type("BTCUSDT", mt)
        except ApiError as err:
            return err.code
        return 0

    assert code("CROSSED") == -4046
    assert code("ISOLATED") == 0 and r.acct.isolated("BTCUSDT")
    o = r.order(side="BUY", type="LIMIT", quantity="0.002", price="99000", timeInForce="GTC")
    assert code("CROSSED") == -4047
    r.acct.cancel_order(o)
    r.order(side="BUY", type="MARKET", quantity="0.002")
    assert code("CROSSED") == -4048
    assert code("HALF") == -1130


def test_isolated_leverage_cannot_drop_with_an_open_position(r: Rig) -> None:
    r.acct.set_margin_type("BTCUSDT", "ISOLATED")
    r.order(side="BUY", type="MARKET", quantity="0.002")
    with pytest.raises(ApiError) as err:
        r.acct.set_leverage("BTCUSDT", 5)
    assert err.value.code == -4161
    r.acct.set_leverage("BTCUSDT", 25)


def test_leverage_above_the_bracket_of_the_grown_position_is_2027() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)}, balance=10_000_000)
    r.acct.set_leverage("BTCUSDT", 125)  # bracket 1 (notional < 50 000) only
    assert r.code(side="BUY", type="MARKET", quantity="0.600") == -2027
    r.order(side="BUY", type="MARKET", quantity="0.400")


def test_market_time_only_moves_forward_and_no_price_before_the_first_candle() -> None:
    r = rig({"BTCUSDT": flat(100_000.0, 5)}, now=T0 - MIN)
    assert r.code(side="BUY", type="MARKET", quantity="0.002") == -2010
    r.at(T0 + MIN)
    r.acct.advance(T0)  # earlier: nothing happens
    assert r.acct.now == T0 + MIN


def test_open_orders_are_capped_per_symbol_regular_and_algo_together(r: Rig) -> None:
    limit = {"side": "BUY", "type": "LIMIT", "quantity": "0.002", "timeInForce": "GTC"}
    stop = {"side": "BUY", "type": "STOP_MARKET", "quantity": "0.002"}
    for k in range(150):
        r.order(**limit, price=f"{99_000 - k}")
    for k in range(50):
        r.algo(**stop, triggerPrice=f"{101_000 + k}")
    assert r.code(**limit, price="98000") == -2025
    assert r.code("algo", **stop, triggerPrice="102000") == -2025
    r.order(**{**limit, "symbol": "ETHUSDT", "quantity": "0.010", "price": "2400"})
