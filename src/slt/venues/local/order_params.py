"""Order entry: how the parameters of `POST /fapi/v1/order` and `POST /fapi/v1/algoOrder`
become an `Order` / `AlgoOrder`, or Binance's error.

`parse_order` and `parse_algo` read the parameters exactly as Binance does
(binance-usdm-protocol.md §6.1, §6.6) and answer a malformed request with Binance's code, in
the order §8 suggests: missing mandatory (-1102), bad enums (-1117, -1116, -1115), parameters
not allowed (-1106, -4137, -4138), then the symbol's filters through `slt.rules.check_order`
(-1111, -4014, -4023, -4004/-4005, -4016/-4024, -4164, -2021). Only checks that need the
account (client id, reduce-only, margin) are left to `Account`, which knows the positions.

TRAILING_STOP_MARKET, RPI time in force, GTD on algo orders and `priceMatch` other than NONE
are refused with a message saying the local exchange does not offer them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from slt.rules import SymbolRules, check_order
from slt.venues.local.errors import ApiError, api_error
from slt.venues.local.orders import (
    ALL_TYPES,
    BASIC_TYPES,
    CONDITIONAL,
    SIDES,
    TRIGGER_LIMIT,
    TRIGGER_MARKET,
    ZERO,
    AlgoOrder,
    Order,
)

TIFS = ("GTC", "IOC", "FOK", "GTX", "GTD")
UNSUPPORTED_TIFS = ("RPI",)
GTD_MIN_AHEAD_MS = 600_000
GTD_MAX_MS = 253_402_300_799_000
WORKING_TYPES = ("CONTRACT_PRICE", "MARK_PRICE")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH")
RESP_TYPES = ("ACK", "RESULT")
CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


def required(params: Mapping[str, str], name: str) -> str:
    """A mandatory parameter's value, or -1102 naming it."""
    value = params.get(name)
    if value is None or value == "":
        raise api_error(-1102, name)
    return str(value)


def decimal_param(params: Mapping[str, str], name: str) -> Decimal | None:
    """An optional DECIMAL parameter; malformed (not a finite plain number) is -1102."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise api_error(-1102, name) from None
    if not value.is_finite():
        raise api_error(-1102, name)
    return value


def bool_param(params: Mapping[str, str], name: str) -> bool:
    """`"true"`/`"false"` in any case (Binance sends and accepts both spellings)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return False
    low = raw.lower()
    if low not in ("true", "false"):
        raise api_error(-1130, name)
    return low == "true"


def enum_param(params: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = params.get(name) or default
    if raw not in allowed:
        raise api_error(-1130, name)
    return raw


def check_client_id(value: str | None) -> None:
    if value is not None and not CLIENT_ID.match(value):
        raise api_error(-4015)


def _common(params: Mapping[str, str]) -> tuple[int, str]:
    """side and type, and the enums every order shares (positionSide, priceMatch)."""
    side_raw = required(params, "side")
    type_raw = required(params, "type")
    if side_raw not in SIDES:
        raise api_error(-1117)
    if type_raw not in ALL_TYPES:
        raise api_error(-1116)
    position_side = params.get("positionSide") or "BOTH"
    if position_side in ("LONG", "SHORT"):
        raise api_error(-4061)  # one-way mode only: BOTH
    if position_side != "BOTH":
        raise api_error(-1130, "positionSide")
    if (params.get("priceMatch") or "NONE") != "NONE":
        raise api_error(
            -1130,
            msg="priceMatch is not offered by the local exchange (no order book); send a price.",
        )
    if type_raw == "TRAILING_STOP_MARKET":
        raise api_error(-1116, msg="TRAILING_STOP_MARKET is not offered by the local exchange.")
    return SIDES[side_raw], type_raw


def _tif(
    params: Mapping[str, str], order_type: str, default: str | None, *, gtd: bool = True
) -> str:
    raw = params.get("timeInForce") or default
    if raw == "GTD" and not gtd:
        raise api_error(-1115, msg="timeInForce GTD is not offered for algo orders here.")
    if raw is None:
        if order_type in ("LIMIT", *TRIGGER_LIMIT):
            raise api_error(-1102, "timeInForce")
        return "GTC"
    if raw in UNSUPPORTED_TIFS:
        raise api_error(-1115, msg=f"timeInForce {raw} is not offered by the local exchange.")
    if raw not in TIFS:
        raise api_error(-1115)
    return raw


def _filters(
    rules: SymbolRules,
    side: int,
    order_type: str,
    qty: Decimal | None,
    price: Decimal | None,
    trigger: Decimal | None,
    last: Decimal,
    reduce_only: bool,
    close_position: bool,
) -> None:
    """The symbol's filters via `slt.rules.check_order` (never repairing: the exchange answers
    what was sent). Trigger orders are checked as STOP_MARKET / TAKE_PROFIT_MARKET at their
    trigger; a stop-limit's price is checked for the grid and bounds only (PERCENT_PRICE
    applies when it triggers), which passing the price itself as the mark does."""
    checks: list[tuple[str, Decimal | None, Decimal]] = []
    if order_type in BASIC_TYPES:
        checks.append((order_type, price, last))
    else:
        base = "STOP_MARKET" if order_type in ("STOP", "STOP_MARKET") else "TAKE_PROFIT_MARKET"
        if price is not None:
            checks.append(("LIMIT", price, price))
        checks.append((base, trigger, last))
    for kind, at, mark in checks:
        result = check_order(
            rules,
            side=side,
            order_type=kind,
            quantity=qty,
            price=at,
            mark_price=mark,
            reduce_only=reduce_only,
            close_position=close_position and kind != "LIMIT",
            repair=False,
        )
        if not result.ok:
            raise ApiError(result.code, _message(result.code, rules), 400)


def _message(code: int, rules: SymbolRules) -> str:
    """Binance's text for a filter code (the rules' reason names our numbers, not theirs)."""
    if code == -4164:
        return api_error(-4164, _plain(rules.min_notional)).msg
    return api_error(code).msg if code != -1106 else api_error(-1106, "closePosition").msg


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def _good_till(params: Mapping[str, str], now: int) -> int:
    """goodTillDate of a GTD order: mandatory, at least 600 s ahead, kept to the second."""
    raw = params.get("goodTillDate") or ""
    if not raw.isdigit():
        raise api_error(-1102, "goodTillDate")
    value = int(raw) // 1000 * 1000
    if not now + GTD_MIN_AHEAD_MS < value < GTD_MAX_MS:
        raise api_error(-1130, "goodTillDate")
    return value


def parse_order(
    params: Mapping[str, str],
    rules: SymbolRules,
    last: Decimal,
    *,
    legacy_conditional: bool,
    now: int,
) -> Order:
    """A `POST /fapi/v1/order` request as an `Order` (ids and times not yet set), or ApiError.

    `last` is the contract's last price: the mark for PERCENT_PRICE / MIN_NOTIONAL of MARKET
    orders and the trigger reference (`workingType` MARK_PRICE and CONTRACT_PRICE both read
    the last price: the replay has no index). `now` is market time, for `goodTillDate`."""
    side, order_type = _common(params)
    conditional = order_type in CONDITIONAL
    if conditional and not legacy_conditional:
        raise api_error(-4120)
    tif = _tif(params, order_type, None if order_type != "MARKET" else "GTC")
    good_till = _good_till(params, now) if tif == "GTD" else 0
    qty = decimal_param(params, "quantity")
    price = decimal_param(params, "price")
    stop = decimal_param(params, "stopPrice")
    close_position = bool_param(params, "closePosition")
    reduce_only = bool_param(params, "reduceOnly")
    _shape(order_type, qty, price, stop, close_position, reduce_only, "stopPrice")
    check_client_id(params.get("newClientOrderId"))
    resp = enum_param(params, "newOrderRespType", RESP_TYPES, "ACK")
    working = enum_param(params, "workingType", WORKING_TYPES, "CONTRACT_PRICE")
    stp = enum_param(params, "selfTradePreventionMode", STP_MODES, "NONE")
    protect = bool_param(params, "priceProtect")
    _filters(rules, side, order_type, qty, price, stop, last, reduce_only, close_position)
    return Order(
        symbol=rules.symbol,
        side=side,
        type=order_type,
        orig_type=order_type,
        tif=tif,
        qty=qty or ZERO,
        price=price or ZERO,
        stop_price=stop or ZERO,
        reduce_only=reduce_only or close_position,
        close_position=close_position,
        working_type=working,
        price_protect=protect,
        stp=stp,
        client_id=params.get("newClientOrderId") or "",
        resp_type=resp,
        gtd=good_till,
    )


def _shape(
    order_type: str,
    qty: Decimal | None,
    price: Decimal | None,
    trigger: Decimal | None,
    close_position: bool,
    reduce_only: bool,
    trigger_name: str,
) -> None:
    """Mandatory and forbidden parameters by type (§6.1's table)."""
    if order_type in ("LIMIT", *TRIGGER_LIMIT) and price is None:
        raise api_error(-1102, "price")
    if order_type in CONDITIONAL and trigger is None:
        raise api_error(-1102, trigger_name)
    if close_position:
        if order_type not in TRIGGER_MARKET:
            raise api_error(-1106, "closePosition")
        if qty is not None:
            raise api_error(-4137)
        if reduce_only:
            raise api_error(-4138)
    elif qty is None:
        raise api_error(-1102, "quantity")
    if order_type == "MARKET" and price is not None:
        raise api_error(-1106, "price")
    if order_type in TRIGGER_MARKET and price is not None:
        raise api_error(-1106, "price")
    if order_type in BASIC_TYPES and trigger is not None:
        raise api_error(-1106, trigger_name)


def parse_algo(params: Mapping[str, str], rules: SymbolRules, last: Decimal) -> AlgoOrder:
    """A `POST /fapi/v1/algoOrder` request as an `AlgoOrder` (ids and times not yet set)."""
    algo_type = required(params, "algoType")
    if algo_type != "CONDITIONAL":
        raise api_error(-1130, "algoType")
    side, order_type = _common(params)
    if order_type not in CONDITIONAL:
        raise api_error(-1116)
    tif = _tif(params, order_type, "GTC", gtd=False)
    qty = decimal_param(params, "quantity")
    price = decimal_param(params, "price")
    trigger = decimal_param(params, "triggerPrice")
    close_position = bool_param(params, "closePosition")
    reduce_only = bool_param(params, "reduceOnly")
    _shape(order_type, qty, price, trigger, close_position, reduce_only, "triggerPrice")
    check_client_id(params.get("clientAlgoId"))
    enum_param(params, "newOrderRespType", RESP_TYPES, "ACK")
    working = enum_param(params, "workingType", WORKING_TYPES, "CONTRACT_PRICE")
    stp = enum_param(params, "selfTradePreventionMode", STP_MODES, "NONE")
    protect = bool_param(params, "priceProtect")
    _filters(rules, side, order_type, qty, price, trigger, last, reduce_only, close_position)
    assert trigger is not None
    return AlgoOrder(
        symbol=rules.symbol,
        side=side,
        order_type=order_type,
        tif=tif,
        qty=qty or ZERO,
        price=price or ZERO,
        trigger_price=trigger,
        reduce_only=reduce_only or close_position,
        close_position=close_position,
        working_type=working,
        price_protect=protect,
        stp=stp,
        client_algo_id=params.get("clientAlgoId") or "",
    )
