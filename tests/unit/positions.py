"""One way for unit tests to make an open position, so each test states only what it is about."""

from __future__ import annotations

from decimal import Decimal

from slt.domain import Position
from slt.domain.enums import ExitReason, Side


def open_position(
    symbol: str,
    side: Side,
    quantity: Decimal,
    entry: Decimal,
    mark: float,
    *,
    leverage: int = 1,
    margin: Decimal | None = None,
    liquidation_price: Decimal | None = None,
    entry_time_ms: int = 0,
    expected_return: float = 0.0,
    confidence: float = 0.0,
) -> Position:
    """A position as the engine holds it right after its entry fill, marked at `mark`: its stop
    at the entry price, no target or scale-out, its margin `quantity × entry / leverage` unless
    given."""
    return Position(
        symbol=symbol,
        side=side,
        quantity=quantity,
        entry_price=entry,
        entry_time_ms=entry_time_ms,
        leverage=leverage,
        margin=quantity * entry / leverage if margin is None else margin,
        initial_quantity=quantity,
        stop_price=entry,
        take_profit_price=None,
        partial_price=None,
        stop_client_id="slt-stop",
        stop_reason=ExitReason.STOP_LOSS,
        best_price=mark,
        mark_price=mark,
        liquidation_price=liquidation_price,
        expected_return=expected_return,
        confidence=confidence,
        source="test",
    )
