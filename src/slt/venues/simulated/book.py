"""The simulated exchange's account book: one-way positions per symbol, wallet balance, margin."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(slots=True)
class VenuePosition:
    side: int
    quantity: Decimal
    entry_price: Decimal
    leverage: int
    margin: Decimal
    liquidation_price: Decimal | None
    next_funding_ms: int


@dataclass(slots=True)
class FillOutcome:
    """What a fill did to the book: realised PnL and whether the position is now flat."""

    realized: Decimal
    flat: bool
