"""Order validation and repair against a symbol's filters: the last gate before the exchange.

`check_order` answers what Binance would answer (the same error code), after making the small,
safe repairs a careful trader would make by hand: quantity down onto the step, price onto the
tick in the direction that never gives a worse fill, and, only within the caller's risk budget,
quantity up to the minimum notional. It never repairs anything that changes the trade's meaning:
an out-of-range price, a quantity above the maximum or a too-large bump are rejections, and the
reason says which filter, which numbers, and what the caller can do.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from enum import Enum

from slt.rules.codes import ErrorCode
from slt.rules.orders_fast import (
    LIMIT,
    MARKET,
    ORDER_TYPES,
    STOP_MARKET,
    TRIGGER_TYPES,
    OrderCheck,
    quick_check,
)
from slt.rules.rounding import CALC, Rounding, decimal_places, is_on_step, round_to_step
from slt.rules.symbol import SymbolRules

_ZERO = Decimal(0)  # comparing with a Decimal zero skips converting the int 0 on every call


class _Rejected(Exception):
    """Internal: stops validation at the first failed rule, like the exchange does."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _show(value: Decimal) -> str:
    """A number for a human message: plain notation, no trailing zeros."""
    return format(value.normalize(CALC), "f")


def _side_name(side: int) -> str:
    return "BUY" if side == 1 else "SELL"


def _check_shape(
    side: int,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None,
    reduce_only: bool,
    close_position: bool,
) -> None:
    """Parameter combinations the exchange refuses before looking at any filter."""
    if side not in (1, -1):
        raise _Rejected(ErrorCode.INVALID_SIDE, f"side must be +1 (BUY) or -1 (SELL), got {side}")
    if order_type not in ORDER_TYPES:
        raise _Rejected(
            ErrorCode.INVALID_ORDER_TYPE,
            f"order type {order_type!r} is not one of {', '.join(ORDER_TYPES)}",
        )
    if close_position:
        if order_type not in TRIGGER_TYPES:
            raise _Rejected(
                ErrorCode.PARAM_NOT_REQUIRED,
                f"closePosition is only valid on STOP_MARKET/TAKE_PROFIT_MARKET, not {order_type}",
            )
        if quantity is not None:
            raise _Rejected(
                ErrorCode.QUANTITY_EXISTS_WITH_CLOSE_POSITION,
                "a closePosition order closes the whole position; send no quantity with it",
            )
        if reduce_only:
            raise _Rejected(
                ErrorCode.PARAM_NOT_REQUIRED,
                "reduceOnly cannot be sent together with closePosition (it is implied)",
            )
    elif quantity is None:
        raise _Rejected(
            ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED,
            f"a {order_type} order needs a quantity (or closePosition on a trigger order)",
        )
    elif quantity <= 0:
        raise _Rejected(ErrorCode.QTY_LESS_THAN_ZERO, f"quantity must be positive, got {quantity}")
    if order_type == MARKET:
        if price is not None:
            raise _Rejected(
                ErrorCode.PARAM_NOT_REQUIRED, "a MARKET order takes no price; it fills at market"
            )
        return
    label = "price" if order_type == LIMIT else "stopPrice"
    if price is None:
        raise _Rejected(
            ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED, f"a {order_type} order needs a {label}"
        )
    if price <= 0:
        code = (
            ErrorCode.PRICE_LESS_THAN_ZERO
            if order_type == LIMIT
            else ErrorCode.STOP_PRICE_LESS_THAN_ZERO
        )
        raise _Rejected(code, f"{label} must be positive, got {price}")


def _price_rounding(side: int, order_type: str) -> Rounding:
    """A limit price rounds toward a better fill for us (buy lower, sell higher); a trigger to
    the nearest tick, because 'safer' depends on whether it is a stop or a target."""
    if order_type == LIMIT:
        return Rounding.DOWN if side == 1 else Rounding.UP
    return Rounding.NEAREST


def _grid_price(
    rules: SymbolRules, side: int, order_type: str, price: Decimal, repair: bool
) -> Decimal:
    """The price on the tick grid (rounded when repairing), or a precision rejection."""
    label = "price" if order_type == LIMIT else "stopPrice"
    if is_on_step(price, rules.tick_size):
        return price
    if repair:
        return rules.round_price(price, _price_rounding(side, order_type))
    if decimal_places(price) > rules.price_precision:
        raise _Rejected(
            ErrorCode.BAD_PRECISION,
            f"{label} {price} has more than pricePrecision {rules.price_precision} decimals",
        )
    raise _Rejected(
        ErrorCode.PRICE_NOT_INCREASED_BY_TICK_SIZE,
        f"PRICE_FILTER: {label} {price} is not a multiple of tickSize {_show(rules.tick_size)}",
    )


def _check_price_range(rules: SymbolRules, order_type: str, settled: Decimal) -> None:
    """PRICE_FILTER bounds; out of range is the caller's decision to fix, never clamped here."""
    label = "price" if order_type == LIMIT else "stopPrice"
    if rules.min_price > 0 and settled < rules.min_price:
        raise _Rejected(
            ErrorCode.PRICE_LESS_THAN_MIN_PRICE,
            f"PRICE_FILTER: {label} {_show(settled)} is below minPrice {_show(rules.min_price)}",
        )
    if rules.max_price > 0 and settled > rules.max_price:
        code = (
            ErrorCode.PRICE_GREATER_THAN_MAX_PRICE
            if order_type == LIMIT
            else ErrorCode.STOP_PRICE_GREATER_THAN_MAX_PRICE
        )
        raise _Rejected(
            code,
            f"PRICE_FILTER: {label} {_show(settled)} is above maxPrice {_show(rules.max_price)}",
        )


def _check_against_mark(
    rules: SymbolRules, side: int, order_type: str, price: Decimal, mark_price: Decimal
) -> None:
    """PERCENT_PRICE for limit orders; 'would immediately trigger' for trigger orders."""
    if order_type == LIMIT:
        with localcontext(CALC):
            cap = mark_price * rules.percent_up
            floor = mark_price * rules.percent_down
            if side == 1 and rules.percent_up > 0 and price > cap:
                raise _Rejected(
                    ErrorCode.PRICE_HIGHER_THAN_MULTIPLIER_UP,
                    f"PERCENT_PRICE: BUY price {_show(price)} is above mark {_show(mark_price)} "
                    f"× multiplierUp {_show(rules.percent_up)} = {_show(cap)}",
                )
            if side == -1 and rules.percent_down > 0 and price < floor:
                raise _Rejected(
                    ErrorCode.PRICE_LOWER_THAN_MULTIPLIER_DOWN,
                    f"PERCENT_PRICE: SELL price {_show(price)} is below mark {_show(mark_price)} "
                    f"× multiplierDown {_show(rules.percent_down)} = {_show(floor)}",
                )
            return
    # STOP_MARKET triggers when the market moves against a BUY up to / a SELL down to the stop;
    # TAKE_PROFIT_MARKET the other way round. Already there means it would fire at once.
    rises_to_trigger = (order_type == STOP_MARKET) == (side == 1)
    fires_now = mark_price >= price if rises_to_trigger else mark_price <= price
    if fires_now:
        relation = "at or above" if rises_to_trigger else "at or below"
        raise _Rejected(
            ErrorCode.ORDER_WOULD_IMMEDIATELY_TRIGGER,
            f"{order_type} {_side_name(side)} stopPrice {_show(price)}: mark {_show(mark_price)} "
            f"is already {relation} it, so it would trigger immediately",
        )


def _min_notional_qty(rules: SymbolRules, ref_price: Decimal, market: bool) -> Decimal:
    """Smallest quantity on the step grid (and >= minQty) whose notional reaches MIN_NOTIONAL."""
    step = rules.qty_step(market)
    with localcontext(CALC):
        qty = round_to_step(rules.min_notional / ref_price, step, Rounding.UP)
        # The division is rounded at 50 digits; make sure we did not land one step too high.
        while qty - step > 0 and (qty - step) * ref_price >= rules.min_notional:
            qty -= step
    return max(qty, rules.qty_bounds(market)[0])


def _grid_quantity(rules: SymbolRules, order_type: str, quantity: Decimal, repair: bool) -> Decimal:
    """The quantity on the step grid (rounded down when repairing), or a precision rejection."""
    market = order_type == MARKET
    step = rules.qty_step(market)
    if is_on_step(quantity, step):
        return quantity
    if repair:
        return rules.round_qty(quantity, Rounding.DOWN, market)
    if decimal_places(quantity) > rules.quantity_precision:
        raise _Rejected(
            ErrorCode.BAD_PRECISION,
            f"quantity {quantity} has more than quantityPrecision {rules.quantity_precision} "
            "decimals",
        )
    raise _Rejected(
        ErrorCode.QTY_NOT_INCREASED_BY_STEP_SIZE,
        f"{_lot_name(market)}: quantity {quantity} is not a multiple of stepSize {_show(step)}",
    )


def _lot_name(market: bool) -> str:
    return "MARKET_LOT_SIZE" if market else "LOT_SIZE"


def _settle_quantity(
    rules: SymbolRules,
    order_type: str,
    quantity: Decimal,
    qty: Decimal,
    ref_price: Decimal,
    reduce_only: bool,
    max_quantity: Decimal | None,
    repair: bool,
) -> Decimal:
    """Gridded `qty` (asked: `quantity`) checked against the lot filter and MIN_NOTIONAL; may be
    raised to MIN_NOTIONAL within the risk budget."""
    market = order_type == MARKET
    step = rules.qty_step(market)
    min_qty, max_qty = rules.qty_bounds(market)
    lot = _lot_name(market)
    if qty > max_qty:
        raise _Rejected(
            ErrorCode.QTY_GREATER_THAN_MAX_QTY,
            f"{lot}: quantity {_show(qty)} is above maxQty {_show(max_qty)}; "
            "split the order or reduce it",
        )
    value = CALC.multiply(qty, ref_price)
    short = rules.min_notional > 0 and value < rules.min_notional and not reduce_only
    needed = _min_notional_qty(rules, ref_price, market) if short else qty
    if short and repair and max_quantity is not None and needed <= min(max_quantity, max_qty):
        return needed
    if qty < min_qty:
        hint = (
            "; a leftover this small can only be closed by a closePosition trigger order"
            if reduce_only
            else ""
        )
        raise _Rejected(
            ErrorCode.QTY_LESS_THAN_MIN_QTY,
            f"{lot}: quantity {_show(qty)} (asked {_show(quantity)}, step {_show(step)}) "
            f"is below minQty {_show(min_qty)}{hint}",
        )
    if short:
        if not repair:
            why = "repair is off"
        elif max_quantity is None:
            why = "no risk budget was given (max_quantity=None), so it was not raised"
        elif needed > max_qty:
            why = f"the {_show(needed)} needed is above {lot} maxQty {_show(max_qty)}"
        else:
            why = f"the {_show(needed)} needed is above the risk budget max_quantity " + _show(
                max_quantity
            )
        raise _Rejected(
            ErrorCode.MIN_NOTIONAL,
            f"MIN_NOTIONAL: notional {_show(value)} ({_show(qty)} × {_show(ref_price)}) is below "
            f"the minimum {_show(rules.min_notional)}; {why}",
        )
    return qty


def check_order(
    rules: SymbolRules,
    *,
    side: int,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None,
    mark_price: Decimal,
    reduce_only: bool = False,
    close_position: bool = False,
    max_quantity: Decimal | None = None,
    repair: bool = True,
) -> OrderCheck:
    """Validate (and within limits repair) one order as Binance would, without sending it.

    `side` +1 BUY / -1 SELL. `price` is the limit price for LIMIT, the trigger price for
    STOP_MARKET / TAKE_PROFIT_MARKET and None for MARKET. `max_quantity` is the risk budget: the
    largest quantity the caller accepts when raising an order to MIN_NOTIONAL (None: never raise).
    MIN_NOTIONAL is measured at the limit or trigger price, and at `mark_price` for MARKET orders.
    Reduce-only and closePosition orders are exempt from MIN_NOTIONAL, as on Binance, so a small
    leftover can always be closed. A trigger already reached by `mark_price` is refused with -2021
    (pass the last price instead when the order triggers on CONTRACT_PRICE). With `repair=False`
    nothing is rounded or raised and an off-grid number is answered with -1111 / -4014 / -4023, as
    the exchange itself (or the local exchange validating a client's request) would.
    """
    if not mark_price > _ZERO:
        raise ValueError(f"mark_price must be positive, got {mark_price}")
    if max_quantity is not None and max_quantity < _ZERO:
        raise ValueError(f"max_quantity must be >= 0 or None, got {max_quantity}")
    # Accept the domain enums (Side is an IntEnum, OrderType a str Enum) but work on plain values,
    # so messages read 'STOP_MARKET', not 'OrderType.STOP_MARKET'.
    side = int(side)
    order_type = str(order_type.value if isinstance(order_type, Enum) else order_type)
    quick = quick_check(
        rules, side, order_type, quantity, price, mark_price, reduce_only, close_position, repair
    )
    if quick is not None:
        return quick
    return _full_check(
        rules,
        side,
        order_type,
        quantity,
        price,
        mark_price,
        reduce_only,
        close_position,
        max_quantity,
        repair,
    )


def _full_check(
    rules: SymbolRules,
    side: int,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None,
    mark_price: Decimal,
    reduce_only: bool,
    close_position: bool,
    max_quantity: Decimal | None,
    repair: bool,
) -> OrderCheck:
    """Every filter in the exchange's order, repairing where allowed; `check_order` after its
    argument checks, for the orders `quick_check` does not answer."""
    settled_qty, settled_price = quantity, price
    try:
        _check_shape(side, order_type, quantity, price, reduce_only, close_position)
        if price is not None:
            settled_price = _grid_price(rules, side, order_type, price, repair)
            _check_price_range(rules, order_type, settled_price)
            _check_against_mark(rules, side, order_type, settled_price, mark_price)
        if quantity is not None:
            settled_qty = _grid_quantity(rules, order_type, quantity, repair)
            ref_price = mark_price if settled_price is None else settled_price
            settled_qty = _settle_quantity(
                rules,
                order_type,
                quantity,
                settled_qty,
                ref_price,
                reduce_only,
                max_quantity,
                repair,
            )
    except _Rejected as rejection:
        return OrderCheck(
            ok=False,
            quantity=settled_qty,
            price=settled_price,
            code=rejection.code,
            reason=f"{rules.symbol}: {rejection.reason}",
            repaired=settled_qty != quantity or settled_price != price,
        )
    return OrderCheck(
        ok=True,
        quantity=settled_qty,
        price=settled_price,
        code=0,
        reason="",
        repaired=settled_qty != quantity or settled_price != price,
    )
