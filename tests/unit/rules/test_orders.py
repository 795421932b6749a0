"""check_order: the codes Binance would answer, and only the repairs that are safe."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slt.rules import ErrorCode, OrderCheck, bundled_rules, check_order
from slt.rules.rounding import is_on_step

D = Decimal
BTC = bundled_rules().get("BTCUSDT")  # tick 0.10, step 0.001, min notional 100, market max 120
DOGE = bundled_rules().get("DOGEUSDT")  # tick 0.00001, step 1, min notional 5
MARK = D("67000")


def btc(**kwargs: Any) -> OrderCheck:
    order: dict[str, Any] = {"side": 1, "order_type": "MARKET", "price": None, "mark_price": MARK}
    order.update(kwargs)
    return check_order(BTC, **order)


def assert_rejected(result: OrderCheck, code: ErrorCode, *words: str) -> None:
    assert not result.ok
    assert result.code == code, result.reason
    for word in words:
        assert word in result.reason, result.reason


def test_valid_market_order_passes_unchanged() -> None:
    assert btc(quantity=D("0.002")) == OrderCheck(True, D("0.002"), None, 0, "", False)


def test_quantity_is_rounded_down_to_the_step() -> None:
    result = btc(quantity=D("0.0029"))
    assert result.ok and result.quantity == D("0.002") and result.repaired


# -- min notional ---------------------------------------------------------------------------


def test_small_entry_is_bumped_to_min_notional_when_the_budget_allows() -> None:
    result = btc(quantity=D("0.001"), max_quantity=D("0.005"))
    assert result.ok and result.repaired
    assert result.quantity == D("0.002")  # 0.002 × 67000 = 134 >= 100; 0.001 × 67000 = 67 < 100
    assert result.quantity * MARK >= BTC.min_notional


def test_bump_uses_the_smallest_sufficient_step() -> None:
    # 100 / 30000 = 0.00333.. -> 0.004 (0.003 × 30000 = 90 < 100)
    result = btc(quantity=D("0.001"), mark_price=D("30000"), max_quantity=D("1"))
    assert result.ok and result.quantity == D("0.004")
    # exactly on the minimum: 0.002 × 50000 = 100, no extra step
    result = btc(quantity=D("0.001"), mark_price=D("50000"), max_quantity=D("1"))
    assert result.ok and result.quantity == D("0.002")


def test_small_entry_is_rejected_when_the_bump_exceeds_the_budget() -> None:
    result = btc(quantity=D("0.001"), max_quantity=D("0.0015"))
    assert_rejected(result, ErrorCode.MIN_NOTIONAL, "MIN_NOTIONAL", "67", "100", "0.0015", "0.002")
    assert result.code == -4164


def test_small_entry_is_rejected_without_a_budget() -> None:
    result = btc(quantity=D("0.001"))
    assert_rejected(result, ErrorCode.MIN_NOTIONAL, "max_quantity=None")


def test_limit_order_min_notional_uses_the_limit_price() -> None:
    ok = btc(order_type="LIMIT", quantity=D("0.002"), price=D("66000"))
    assert ok.ok
    low = btc(order_type="LIMIT", quantity=D("0.0015"), price=D("66000"))
    assert_rejected(low, ErrorCode.MIN_NOTIONAL, "66")


@pytest.mark.parametrize("order_type", ["MARKET", "LIMIT"])
def test_reduce_only_order_under_min_notional_is_accepted(order_type: str) -> None:
    price = D("67100") if order_type == "LIMIT" else None
    result = btc(side=-1, order_type=order_type, quantity=D("0.001"), price=price, reduce_only=True)
    assert result.ok, result.reason
    assert result.quantity == D("0.001") and not result.repaired


def test_close_position_stop_needs_no_quantity_and_no_min_notional() -> None:
    result = btc(
        side=-1, order_type="STOP_MARKET", quantity=None, price=D("65000.04"), close_position=True
    )
    assert result.ok and result.price == D("65000.0") and result.quantity is None


def test_reduce_only_below_min_qty_points_to_close_position() -> None:
    result = btc(side=-1, quantity=D("0.0004"), reduce_only=True)
    assert_rejected(result, ErrorCode.QTY_LESS_THAN_MIN_QTY, "minQty 0.001", "closePosition")
    assert result.quantity == 0


# -- lot size -------------------------------------------------------------------------------


def test_market_and_limit_orders_use_their_own_max_quantity() -> None:
    market = btc(quantity=D("120.001"))
    assert_rejected(market, ErrorCode.QTY_GREATER_THAN_MAX_QTY, "MARKET_LOT_SIZE", "120")
    limit = btc(order_type="LIMIT", quantity=D("120.001"), price=D("67000"))
    assert limit.ok
    assert_rejected(
        btc(order_type="LIMIT", quantity=D("1000.001"), price=D("67000")),
        ErrorCode.QTY_GREATER_THAN_MAX_QTY,
        "LOT_SIZE",
    )


@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_non_positive_quantity_is_refused(quantity: str) -> None:
    assert_rejected(btc(quantity=D(quantity)), ErrorCode.QTY_LESS_THAN_ZERO)


def test_quantity_that_rounds_to_nothing_is_below_min_qty() -> None:
    result = check_order(
        DOGE,
        side=1,
        order_type="MARKET",
        quantity=D("0.7"),
        price=None,
        mark_price=D("0.12"),
        max_quantity=None,
    )
    assert_rejected(result, ErrorCode.QTY_LESS_THAN_MIN_QTY)


# -- prices ---------------------------------------------------------------------------------


def test_limit_prices_round_toward_the_better_fill() -> None:
    buy = btc(order_type="LIMIT", quantity=D("0.01"), price=D("66999.99"))
    sell = btc(side=-1, order_type="LIMIT", quantity=D("0.01"), price=D("67000.01"))
    assert buy.ok and buy.price == D("66999.9") and buy.repaired
    assert sell.ok and sell.price == D("67000.1") and sell.repaired


@pytest.mark.parametrize("order_type", ["STOP_MARKET", "TAKE_PROFIT_MARKET"])
def test_trigger_prices_round_to_the_nearest_tick(order_type: str) -> None:
    side = -1 if order_type == "STOP_MARKET" else 1  # both trigger below the mark
    low = btc(side=side, order_type=order_type, quantity=D("0.01"), price=D("65000.04"))
    high = btc(side=side, order_type=order_type, quantity=D("0.01"), price=D("65000.05"))
    assert low.ok and low.price == D("65000.0")
    assert high.ok and high.price == D("65000.1")


def test_price_outside_the_price_filter_is_rejected_not_clamped() -> None:
    below = btc(order_type="LIMIT", quantity=D("1"), price=D("556.7"), mark_price=D("580"))
    assert_rejected(below, ErrorCode.PRICE_LESS_THAN_MIN_PRICE, "minPrice 556.8")
    above = btc(
        side=-1,
        order_type="LIMIT",
        quantity=D("0.01"),
        price=D("4529764.1"),
        mark_price=D("4529764"),
    )
    assert_rejected(above, ErrorCode.PRICE_GREATER_THAN_MAX_PRICE, "maxPrice 4529764")
    stop = btc(order_type="STOP_MARKET", quantity=D("0.01"), price=D("4529765"))
    assert_rejected(stop, ErrorCode.STOP_PRICE_GREATER_THAN_MAX_PRICE)


def test_percent_price_band_for_limit_orders() -> None:
    # BUY limit may be at most mark × 1.05 = 70350; SELL at least mark × 0.95 = 63650
    assert btc(order_type="LIMIT", quantity=D("0.01"), price=D("70350")).ok
    high = btc(order_type="LIMIT", quantity=D("0.01"), price=D("70350.1"))
    assert_rejected(high, ErrorCode.PRICE_HIGHER_THAN_MULTIPLIER_UP, "70350")
    assert btc(side=-1, order_type="LIMIT", quantity=D("0.01"), price=D("63650")).ok
    low = btc(side=-1, order_type="LIMIT", quantity=D("0.01"), price=D("63649.9"))
    assert_rejected(low, ErrorCode.PRICE_LOWER_THAN_MULTIPLIER_DOWN, "63650")
    # the band limits only the aggressive side: a deep resting order is fine
    assert btc(order_type="LIMIT", quantity=D("0.01"), price=D("60000")).ok


@pytest.mark.parametrize(
    ("order_type", "side", "price"),
    [
        ("STOP_MARKET", 1, "67000"),  # buy stop must be above the mark
        ("STOP_MARKET", -1, "67000.1"),  # sell stop must be below
        ("TAKE_PROFIT_MARKET", 1, "67000.1"),  # buy target must be below
        ("TAKE_PROFIT_MARKET", -1, "66999.9"),  # sell target must be above
    ],
)
def test_trigger_already_reached_would_immediately_trigger(
    order_type: str, side: int, price: str
) -> None:
    result = btc(side=side, order_type=order_type, quantity=D("0.01"), price=D(price))
    assert_rejected(result, ErrorCode.ORDER_WOULD_IMMEDIATELY_TRIGGER)


# -- parameter shape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"side": 0, "quantity": D("0.01")}, ErrorCode.INVALID_SIDE),
        ({"order_type": "STOP", "quantity": D("0.01")}, ErrorCode.INVALID_ORDER_TYPE),
        ({"quantity": None}, ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED),
        ({"quantity": D("0.01"), "price": D("67000")}, ErrorCode.PARAM_NOT_REQUIRED),
        (
            {"order_type": "LIMIT", "quantity": D("0.01")},
            ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
        ),
        (
            {"order_type": "LIMIT", "quantity": D("0.01"), "price": D(0)},
            ErrorCode.PRICE_LESS_THAN_ZERO,
        ),
        (
            {"order_type": "STOP_MARKET", "quantity": D("0.01"), "price": D(-1)},
            ErrorCode.STOP_PRICE_LESS_THAN_ZERO,
        ),
        ({"quantity": None, "close_position": True}, ErrorCode.PARAM_NOT_REQUIRED),
        (
            {
                "order_type": "STOP_MARKET",
                "side": -1,
                "quantity": D("0.01"),
                "price": D("65000"),
                "close_position": True,
            },
            ErrorCode.QUANTITY_EXISTS_WITH_CLOSE_POSITION,
        ),
        (
            {
                "order_type": "STOP_MARKET",
                "side": -1,
                "quantity": None,
                "price": D("65000"),
                "close_position": True,
                "reduce_only": True,
            },
            ErrorCode.PARAM_NOT_REQUIRED,
        ),
    ],
)
def test_parameter_combinations_the_exchange_refuses(kwargs: dict[str, Any], code: int) -> None:
    assert btc(**kwargs).code == code


def test_caller_bugs_raise() -> None:
    with pytest.raises(ValueError, match="mark_price"):
        btc(quantity=D("0.01"), mark_price=D(0))
    with pytest.raises(ValueError, match="max_quantity"):
        btc(quantity=D("0.01"), max_quantity=D(-1))


# -- strict mode (what the local exchange answers a client) -----------------------------------


def test_without_repair_off_grid_numbers_get_the_exchange_codes() -> None:
    limit = {"order_type": "LIMIT", "repair": False}
    assert btc(quantity=D("0.0015"), price=D("67000"), **limit).code == -1111
    assert btc(quantity=D("0.01"), price=D("67000.123"), **limit).code == -1111
    assert btc(quantity=D("0.01"), price=D("67000.05"), **limit).code == -4014
    assert (
        check_order(
            DOGE,
            side=1,
            order_type="MARKET",
            quantity=D("1.5"),
            price=None,
            mark_price=D("0.1"),
            repair=False,
        ).code
        == -1111
    )
    assert btc(quantity=D("0.001"), max_quantity=D("1"), repair=False).code == -4164
    assert btc(quantity=D("0.002"), repair=False).ok


def test_without_repair_a_coarse_step_gives_the_step_code() -> None:
    coarse = dataclasses.replace(BTC, step_size=D("0.005"))
    result = check_order(
        coarse,
        side=1,
        order_type="LIMIT",
        quantity=D("0.012"),
        price=D("67000"),
        mark_price=MARK,
        repair=False,
    )
    assert result.code == ErrorCode.QTY_NOT_INCREASED_BY_STEP_SIZE


# -- properties -----------------------------------------------------------------------------

quantities = st.integers(1, 3_000_000).map(lambda n: D(n).scaleb(-5))
prices = st.integers(600_000, 1_000_000).map(lambda n: D(n).scaleb(-1) + D("0.03"))


@settings(max_examples=150, deadline=None)
@given(
    side=st.sampled_from([1, -1]),
    order_type=st.sampled_from(["MARKET", "LIMIT"]),
    quantity=quantities,
    price=prices,
    budget=st.none() | quantities,
    reduce_only=st.booleans(),
)
def test_an_accepted_order_satisfies_every_filter(
    side: int,
    order_type: str,
    quantity: Decimal,
    price: Decimal,
    budget: Decimal | None,
    reduce_only: bool,
) -> None:
    limit_price = price if order_type == "LIMIT" else None
    result = check_order(
        BTC,
        side=side,
        order_type=order_type,
        quantity=quantity,
        price=limit_price,
        mark_price=price,
        reduce_only=reduce_only,
        max_quantity=budget,
    )
    if not result.ok:
        assert result.code != 0 and result.reason.startswith("BTCUSDT: ")
        return
    assert result.code == 0 and result.reason == ""
    qty = result.quantity
    assert qty is not None and is_on_step(qty, BTC.step_size)
    low, high = BTC.qty_bounds(market=order_type == "MARKET")
    assert low <= qty <= high
    reference = result.price if result.price is not None else price
    if not reduce_only:
        assert qty * reference >= BTC.min_notional
    if qty > quantity:  # only ever raised for min notional, and never past the budget
        assert not reduce_only and budget is not None and qty <= budget
        assert (qty - BTC.step_size) * reference < BTC.min_notional
    else:
        assert quantity - qty < BTC.step_size
    if result.price is not None:
        assert is_on_step(result.price, BTC.tick_size)
        assert (result.price <= price) if side == 1 else (result.price >= price)


def test_domain_enums_are_accepted_and_messages_use_wire_names() -> None:
    from slt.domain.enums import OrderType, Side

    result = check_order(
        BTC,
        side=Side.SHORT,
        order_type=OrderType.STOP_MARKET,
        quantity=D("0.01"),
        price=D("67100"),
        mark_price=MARK,
    )
    assert_rejected(result, ErrorCode.ORDER_WOULD_IMMEDIATELY_TRIGGER, "STOP_MARKET SELL")
    assert "OrderType" not in result.reason
    assert check_order(
        BTC,
        side=Side.LONG,
        order_type=OrderType.MARKET,
        quantity=D("0.002"),
        price=None,
        mark_price=MARK,
    ).ok
