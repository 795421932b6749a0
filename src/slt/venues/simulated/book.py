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
