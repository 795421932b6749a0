"""The verdict type of `check_order`, and its fast path for orders that are already valid.

Nearly every order a backtest sends is built from rounded numbers: the engine rounds stops and
targets onto the tick and quantities onto the step before sending, and the simulated venue checks
each one again without repairing anything. For such an order the full validation (orders.py)
walks every filter only to return the order unchanged. `quick_check` answers those orders with a
handful of comparisons and returns None for anything else — off the grid, out of a filter's range,
below MIN_NOTIONAL, an odd parameter combination, a LIMIT order — which then takes the full path.
It is the full path's own success case, written out: the same tests in the same arithmetic, so
its verdicts are the full path's (tests/unit/rules/test_orders_fastpath.py compares them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeGuard

import msgspec

from slt.rules.rounding import CALC, Rounding, round_to_step
from slt.rules.symbol import SymbolRules

MARKET = "MARKET"
LIMIT = "LIMIT"
STOP_MARKET = "STOP_MARKET"
TAKE_PROFIT_MARKET = "TAKE_PROFIT_MARKET"
ORDER_TYPES = (MARKET, LIMIT, STOP_MARKET, TAKE_PROFIT_MARKET)
TRIGGER_TYPES = (STOP_MARKET, TAKE_PROFIT_MARKET)

_ZERO = Decimal(0)


class OrderCheck(msgspec.Struct, frozen=True, gc=False):
    """Verdict on one order: send `quantity`/`price` as they are here when `ok`, else don't send.

    `code` is the Binance error code the exchange would return (0 when ok) and `reason` names the
    filter and the numbers ('' when ok). `repaired` says the returned numbers differ from the
    ones asked for. On a rejection, quantity/price are the values as far as they were processed.
    (A frozen struct rather than a dataclass: every order sent builds one, and it builds faster.)
    """

    ok: bool
    quantity: Decimal | None
    price: Decimal | None
    code: int
    reason: str
    repaired: bool


def _valid(value: Decimal | None) -> TypeGuard[Decimal]:
    """A finite Decimal: what the full path's grid test accepts without raising."""
    return type(value) is Decimal and value.is_finite()


def _lot_passes(
    rules: SymbolRules, quantity: Decimal, ref_price: Decimal, market: bool, reduce_only: bool
) -> bool:
    """On the lot filter's step, within its bounds, and at MIN_NOTIONAL (or exempt from it)."""
    if market:
        step, low, high = rules.market_step_size, rules.market_min_qty, rules.market_max_qty
    else:
        step, low, high = rules.step_size, rules.min_qty, rules.max_qty
    if CALC.remainder(quantity, step) or quantity > high:  # a remainder is true when not zero
        return False
    value = CALC.multiply(quantity, ref_price)  # computed as the full path does, even if unused
    floor = rules.min_notional
    return not quantity < low and (reduce_only or not floor > _ZERO or not value < floor)


def quick_check(
    rules: SymbolRules,
    side: int,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None,
    mark_price: Decimal,
    reduce_only: bool,
    close_position: bool,
    repair: bool = False,
) -> OrderCheck | None:
    """The verdict for an order that passes every filter as it is, or None to run the full check.

    MARKET: no price, a positive quantity on the MARKET_LOT_SIZE grid within its bounds, notional
    at the mark reaching MIN_NOTIONAL unless reduce-only. STOP_MARKET / TAKE_PROFIT_MARKET: a
    positive trigger on the tick grid, inside PRICE_FILTER's bounds, that the mark has not reached;
    with closePosition no quantity and no reduceOnly, else a quantity that passes LOT_SIZE and
    MIN_NOTIONAL at the trigger. Such an order is accepted unchanged whether repair is on or not.
    With repair, a MARKET quantity off its grid is first rounded down onto it, as the full path
    does (an entry sized in floats), and answered if the rounded quantity passes.
    """
    if (
        repair
        and order_type == MARKET
        and (side == 1 or side == -1)
        and price is None
        and not close_position
        and _valid(quantity)
        and quantity > _ZERO
        and CALC.remainder(quantity, rules.market_step_size)  # true when not zero: off the grid
    ):
        settled = round_to_step(quantity, rules.market_step_size, Rounding.DOWN)
        if not _lot_passes(rules, settled, mark_price, True, reduce_only):
            return None
        return OrderCheck(True, settled, None, 0, "", settled != quantity)
    if not passes_as_sent(
        rules, side, order_type, quantity, price, mark_price, reduce_only, close_position
    ):
        return None
    return OrderCheck(True, quantity, price, 0, "", False)  # a MARKET order's price is None


def passes_as_sent(
    rules: SymbolRules,
    side: int,
    order_type: str,
    quantity: Decimal | None,
    price: Decimal | None,
    mark_price: Decimal,
    reduce_only: bool,
    close_position: bool,
) -> bool:
    """True when `quick_check` without repair answers the order ok (it is accepted unchanged),
    False when it answers None. The simulated venue asks this for every order it is sent: it
    reads only the `ok` of a verdict, so building one would be wasted."""
    if side != 1 and side != -1:
        return False
    if order_type == MARKET:
        if price is not None or close_position or not _valid(quantity) or not quantity > _ZERO:
            return False
        return _lot_passes(rules, quantity, mark_price, True, reduce_only)
    if order_type != STOP_MARKET and order_type != TAKE_PROFIT_MARKET:
        return False
    if not _valid(price):
        return False
    if not price > _ZERO or CALC.remainder(price, rules.tick_size):
        return False
    low, high = rules.min_price, rules.max_price
    if (low > _ZERO and price < low) or (high > _ZERO and price > high):
        return False
    rises_to_trigger = (order_type == STOP_MARKET) == (side == 1)
    if mark_price >= price if rises_to_trigger else mark_price <= price:
        return False
    if close_position:
        return quantity is None and not reduce_only
    return (
        _valid(quantity)
        and quantity > _ZERO
        and _lot_passes(rules, quantity, price, False, reduce_only)
    )
