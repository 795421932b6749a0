"""The simulated exchange's account book: one-way positions per symbol, wallet balance, margin."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from slt.domain import OrderRequest, OrderType
from slt.domain.numbers import as_float, remembered_float

_STOP_MARKET = OrderType.STOP_MARKET
_ZERO = Decimal(0)


@dataclass(slots=True)
class VenuePosition:
    side: int
    quantity: Decimal
    entry_price: Decimal
    leverage: int
    margin: Decimal
    liquidation_price: Decimal | None
    next_funding_ms: int


def trigger_levels_of(
    pos: VenuePosition | None, resting: Iterable[OrderRequest]
) -> tuple[float, float]:
    """(low, high) of a symbol's book: a candle with low <= low or high >= high could trigger one
    of its resting stops or targets or the position's liquidation; one strictly inside cannot.
    A stop sits on the adverse side (below a long), a target on the favourable one."""
    if pos is None:
        return -math.inf, math.inf
    # max(lows) and min(highs) written out: this runs after every change of a symbol's orders
    # (the levels are never NaN, so the answers agree). A trigger price is converted by float()
    # itself: most are new objects, met once or twice, and as_float's memo would first have to
    # hash each one, which costs several times the conversion. The liquidation price is the
    # solve's memoized object, shared with the engine, and is asked for again and again.
    low = -math.inf
    high = math.inf
    long = pos.side > 0
    for order in resting:
        level = float(order.stop_price or _ZERO)
        if (order.type is _STOP_MARKET) == long:
            if level > low:
                low = level
        elif level < high:
            high = level
    liq = pos.liquidation_price
    if liq is not None:
        level = remembered_float(liq) or as_float(liq)
        if long:
            if level > low:
                low = level
        elif level < high:
            high = level
    return low, high


def reaches(price: float, level: Decimal, nearest: float, down: bool) -> bool:
    """`price <= level` when `down`, else `price >= level`, exactly, with `nearest` = float(level).

    A float compared with a Decimal is compared exactly, at twenty times the cost of comparing two
    floats. The nearest float to `level` gives the same answer unless `price` equals it: a float
    below it lies below `level` too (level is within half a unit of the last place of it)."""
    if price == nearest:
        return (price <= level) if down else (price >= level)
    return (price < nearest) if down else (price > nearest)
