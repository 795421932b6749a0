"""The simulated exchange's account book: one-way positions per symbol, wallet balance, margin."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from slt.domain import OrderRequest, OrderType
from slt.domain.numbers import as_float

_STOP_MARKET = OrderType.STOP_MARKET


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
    lows = [-math.inf]
    highs = [math.inf]
    long = pos.side > 0
    for order in resting:
        level = as_float(order.stop_price or Decimal(0))  # float(), remembered: asked again
        adverse = order.type is _STOP_MARKET
        (lows if adverse == long else highs).append(level)
    if pos.liquidation_price is not None:
        (lows if long else highs).append(as_float(pos.liquidation_price))
    return max(lows), min(highs)
