"""The simulated exchange's own checks of an order that opens or adds to a position: the
leverage bracket of the position it would make, and the margin it needs.

The exchange judges a market order the moment it arrives and fills it at once, so the next
order meets a wallet the first one has already used. Here a market order waits for the next
candle's open, so the entries waiting beside it are counted as if they had filled: two entries
decided at one close cannot both pass against the same wallet when together they do not fit.
"""

from __future__ import annotations

from decimal import Decimal

from slt.domain import OrderRequest
from slt.rules import SymbolRules, entry_cost
from slt.venues.simulated.book import VenuePosition

Refusal = tuple[int, str]
"""A Binance error code and its message."""


def check_entry(
    rules: SymbolRules,
    order: OrderRequest,
    pos: VenuePosition | None,
    mark: Decimal,
    available: Decimal,
    taker_rate: Decimal,
) -> Refusal | Decimal:
    """The refusal of a market order that is not reduce-only, or what it takes of the available
    balance (initial margin and taker fee at `mark`) when it is accepted.

    `available` is the wallet less what positions hold and waiting entries will take."""
    lev = order.leverage or (pos.leverage if pos else 1)
    qty = order.quantity or Decimal(0)
    held = pos.quantity if pos is not None and pos.side == int(order.side) else 0
    allowed = rules.max_leverage_for((held + qty) * mark)
    if lev > allowed:
        return -2027, f"Leverage {lev}x is above the {allowed}x of the notional's bracket."
    cost = entry_cost(qty * mark, lev, taker_rate)
    if cost > available:
        return -2019, "Margin is insufficient."
    return cost
